import { setFlagsFromString } from 'node:v8';

/**
 * Large batches and V8's heap growth. Under a high allocation rate V8 lets the heap grow to
 * several times the data it keeps alive: a 100,000-entry batch keeps about 70 MB alive but
 * left 270 MB of heap behind it, and the next one grew it further (peak RSS 350, then
 * 430 MiB). Bounding growth to 25% past the live data keeps three such batches in a row
 * under 360 MiB, with a young generation of `--max-semi-space-size=24` or 32 (see
 * bin/writepath.js) included (at 40% and 32, 335 to 372 MiB), but would cost every batch more
 * collections (about 10% more time at 10,000 entries). So the bound holds only while a
 * large batch is in flight. The flag is process-wide and read at every full collection,
 * which is why setting it at run time takes effect.
 */
/** A body of 4 MiB holds about 16,000 entries of a typical app table. */
const LARGE_BODY_BYTES = 4 * 1024 * 1024;
const GROWING_PERCENT_WHILE_LARGE = 25;
/** V8's default: growth chosen by its own heuristics. */
const DEFAULT_GROWING_PERCENT = 0;

/** Bounds V8's heap growth while large batches are in flight (see above). */
export class HeapGuard {
  private enabled = false;
  private largeInFlight = 0;

  constructor(private readonly setFlags: (flags: string) => void = setFlagsFromString) {}

  /**
   * Turns the guard on, unless node was started with its own `--heap-growing-percent`.
   * Only `writepath serve` calls it: in library mode the host application owns its
   * process and its flags.
   */
  enable(execArgv: readonly string[] = process.execArgv): void {
    this.enabled = !execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg));
  }

  /**
   * Bounds heap growth from now until the returned function is called, when the batch's
   * body is large (any number of large batches may overlap).
   */
  hold(bodyBytes: number): () => void {
    if (!this.enabled || bodyBytes < LARGE_BODY_BYTES) return () => {};
    if (this.largeInFlight++ === 0) this.setFlags(`--heap-growing-percent=${GROWING_PERCENT_WHILE_LARGE}`);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.largeInFlight === 0) this.setFlags(`--heap-growing-percent=${DEFAULT_GROWING_PERCENT}`);
    };
  }
}

/** The process's guard: V8's flags are process-wide. */
export const heapGuard = new HeapGuard();
