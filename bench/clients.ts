// Many small uploads at once: each client posts 10-entry batches back to back over its own
// keep-alive connection, as app instances would. Requests are made before the clock starts
// and sent by a minimal HTTP client (raw-http.ts): on a shared two-core machine, the
// clients' own work would otherwise be measured too.
import { randomUUID } from 'node:crypto';
import { mixedBatch } from './data.ts';
import { postRequest, RawHttpConnection } from './raw-http.ts';

export interface ClientsResult {
  batchesPerSecond: number;
  p50: number;
  p99: number;
  /** Batches measured (after the warm-up). */
  batches: number;
  /** Batches sent, the warm-up's included. */
  sent: number;
}

/**
 * Makes every client's requests and opens their connections; the returned `run` sends
 * them, and only it is timed (and its CPU counted).
 */
export async function prepareClients(
  url: string,
  token: string,
  existing: string[],
  options: { clients: number; batchSize: number; seconds: number; warmupSeconds?: number },
): Promise<{ run: () => Promise<ClientsResult> }> {
  const target = new URL('/api/data', url);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const warmupSeconds = options.warmupSeconds ?? 1;
  // Enough requests for the run at twice the target rate.
  const perClient = Math.ceil(((options.seconds + warmupSeconds) * 4000) / options.clients);
  const clients = await Promise.all(
    Array.from({ length: options.clients }, async (_, index) => {
      const clientId = randomUUID();
      const requests = Array.from({ length: perClient }, (_, round) => {
        const batch = mixedBatch(options.batchSize, index * 1_000_003 + round, existing, 1 + round * options.batchSize);
        return postRequest(target, headers, JSON.stringify({ client_id: clientId, batch }));
      });
      return { requests, connection: await RawHttpConnection.open(target.hostname, Number(target.port)) };
    }),
  );

  const run = async (): Promise<ClientsResult> => {
    const latencies: number[] = [];
    let sent = 0;
    const warmupEnd = performance.now() + warmupSeconds * 1000;
    const end = warmupEnd + options.seconds * 1000;
    const client = async ({ requests, connection }: (typeof clients)[number], index: number) => {
      try {
        for (let round = 0; round < requests.length && performance.now() < end; round++) {
          const start = performance.now();
          const { status } = await connection.send(requests[round]!);
          sent++;
          const done = performance.now();
          if (status !== 200) throw new Error(`client ${index}: ${status}`);
          if (start >= warmupEnd && done <= end) latencies.push(done - start);
        }
        if (performance.now() < end) throw new Error(`client ${index} ran out of requests`);
      } finally {
        connection.close();
      }
    };
    await Promise.all(clients.map(client));
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { batchesPerSecond: latencies.length / options.seconds, p50: at(0.5), p99: at(0.99), batches: latencies.length, sent };
  };
  return { run };
}
