// Many small uploads at once: each client posts 10-entry batches back to back over its own
// keep-alive connection, as app instances would. Bodies are made before the clock starts:
// on a shared two-core machine, the clients' own work would otherwise be measured too.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mixedBatch } from './data.ts';

export interface ClientsResult {
  batchesPerSecond: number;
  p50: number;
  p99: number;
  /** Batches measured (after the warm-up). */
  batches: number;
  /** Batches sent, the warm-up's included. */
  sent: number;
}

export async function runClients(
  url: string,
  token: string,
  existing: string[],
  options: { clients: number; batchSize: number; seconds: number; warmupSeconds?: number },
): Promise<ClientsResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
  const target = new URL('/api/data', url);
  const latencies: number[] = [];
  let sent = 0;
  const warmupEnd = performance.now() + (options.warmupSeconds ?? 1) * 1000;
  const end = warmupEnd + options.seconds * 1000;
  // Enough bodies for the run at a rate well above the target, generated up front.
  const perClient = Math.ceil(((options.seconds + (options.warmupSeconds ?? 1)) * 4000) / options.clients);
  const client = async (index: number) => {
    const clientId = randomUUID();
    const bodies = Array.from({ length: perClient }, (_, round) =>
      Buffer.from(JSON.stringify({ client_id: clientId, batch: mixedBatch(options.batchSize, index * 1_000_003 + round, existing, 1 + round * options.batchSize) })),
    );
    for (let round = 0; round < bodies.length && performance.now() < end; round++) {
      const start = performance.now();
      const status = await send(agent, target, token, bodies[round]!);
      sent++;
      const done = performance.now();
      if (status !== 200) throw new Error(`client ${index}: ${status}`);
      if (start >= warmupEnd && done <= end) latencies.push(done - start);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { batchesPerSecond: latencies.length / options.seconds, p50: at(0.5), p99: at(0.99), batches: latencies.length, sent };
}

function send(agent: Agent, target: URL, token: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${token}` } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
