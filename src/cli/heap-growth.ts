import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the heap grow past what the last full collection kept, in percent. Its
 * default grows the heap to several times the live data under a high allocation rate: a
 * 100,000-entry batch keeps about 70 MB alive but left 270 MB of heap behind it, and the
 * next large batch grew it further (RSS 350, then 430 MiB). At 40% the same batches peak
 * near 250 MiB for a few percent more time spent collecting (README, benchmarks).
 */
const HEAP_GROWING_PERCENT = 40;

/**
 * Bounds the standalone server's heap growth, unless node was started with its own
 * setting. Only `serve` calls this: in library mode the host application owns its process.
 * The flag is read at every full collection, so setting it at start-up takes effect.
 */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
