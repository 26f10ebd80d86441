// Many small uploads at once: each client posts 10-entry batches back to back (fetch keeps
// its connections alive, one per client in flight).
import { randomUUID } from 'node:crypto';
import { mixedBatch } from './data.ts';

export interface ClientsResult {
  batchesPerSecond: number;
  p50: number;
  p99: number;
  batches: number;
}

export async function runClients(
  url: string,
  token: string,
  existing: string[],
  options: { clients: number; batchSize: number; seconds: number; warmupSeconds?: number },
): Promise<ClientsResult> {
  const latencies: number[] = [];
  const warmupEnd = performance.now() + (options.warmupSeconds ?? 1) * 1000;
  const end = warmupEnd + options.seconds * 1000;
  let counted = 0;
  const client = async (index: number) => {
    const clientId = randomUUID();
    let opId = 1;
    for (let round = 0; performance.now() < end; round++) {
      const batch = mixedBatch(options.batchSize, index * 1_000_003 + round, existing, opId);
      opId += batch.length;
      const body = JSON.stringify({ client_id: clientId, batch });
      const start = performance.now();
      const response = await fetch(`${url}/api/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      await response.arrayBuffer();
      const done = performance.now();
      if (response.status !== 200) throw new Error(`client ${index}: ${response.status}`);
      if (start >= warmupEnd && done <= end) {
        latencies.push(done - start);
        counted++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { batchesPerSecond: counted / options.seconds, p50: at(0.5), p99: at(0.99), batches: counted };
}
