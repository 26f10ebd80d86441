// `npm run bench`: writepath end to end over HTTP against the SQL floor and the naive
// baseline, on the same seeded table, in one process; prints a table and a JSON line.
// Options: --quick (fewer runs), --naive-all (also the 100,000-entry naive baseline, slow),
// --clients-only (only the many-clients run), --after-checkpoint (every run right after a
// checkpoint, the worst case for the WAL: see ResetOptions in data.ts).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createSchema, mixedBatch, resetTable as resetTo, type Entry } from './data.ts';
import { prepareClients, type ClientsResult } from './clients.ts';
import { cpuPerBatch, type CpuPerBatch } from './process-cpu.ts';
import { openBenchDatabase } from './database.ts';
import { preparePost, startServer } from './server.ts';
import { applyFloor, applyNaive } from './sql-baselines.ts';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const clientsOnly = args.has('--clients-only');
const afterCheckpoint = args.has('--after-checkpoint');
const TABLE_STATE = afterCheckpoint ? 'checkpointed just before each run' : 'written since the last checkpoint';
const SIZES = [1_000, 10_000, 100_000];
const RUNS: Record<number, number> = quick ? { 1000: 3, 10000: 3, 100000: 1 } : { 1000: 7, 10000: 9, 100000: 3 };

const resetTable = (client: pg.ClientBase) => resetTo(client, { afterCheckpoint });

const median = (xs: number[] = []) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: number[]) => (xs.length < 2 ? 0 : (Math.max(...xs) - Math.min(...xs)) / median(xs));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'writepath-bench-'));
  const database = await openBenchDatabase('writepath_bench');
  const { url: databaseUrl, version } = database;

  console.error(`seeding 100,000 rows on Postgres ${version}...`);
  const existing = await createSchema(databaseUrl);
  const server = await startServer(databaseUrl, dir);
  const sql = new pg.Client({ connectionString: databaseUrl });
  await sql.connect();
  const checksum = async () =>
    (await sql.query(`SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM items t`)).rows[0] as { n: number; h: string };

  const times: Record<string, number[]> = {};
  const record = (key: string, ms: number) => (times[key] ??= []).push(ms);
  const mismatches: string[] = [];
  const rss100k: number[] = [];
  try {
    // One unmeasured round first, so that no strategy pays for JIT warm-up or cold caches.
    console.error('warm-up...');
    const warm = mixedBatch(10_000, 1, existing);
    await timeHttp(server.url, await server.token('bench'), warm, sql);
    await resetTable(sql);
    await applyFloor(sql, warm);
    await resetTable(sql);
    await applyNaive(sql, warm.slice(0, 2_000));
    await resetTable(sql);
    for (const size of clientsOnly ? [] : SIZES) {
      for (let run = 0; run < RUNS[size]!; run++) {
        const batch = mixedBatch(size, size + run * 7919, existing);
        const http = await timeHttp(server.url, await server.token('bench'), batch, sql);
        record(`http_${size}`, http);
        if (size === 100_000) rss100k.push(server.peakRssMiB());
        const viaHttp = await checksum();
        await resetTable(sql);
        record(`floor_${size}`, await timed(() => applyFloor(sql, batch)));
        const viaFloor = await checksum();
        if (viaHttp.h !== viaFloor.h) mismatches.push(`${size}/${run}: http ${viaHttp.n} rows, floor ${viaFloor.n} rows`);
        await resetTable(sql);
        if (size <= 10_000 || args.has('--naive-all')) {
          record(`naive_${size}`, await timed(() => applyNaive(sql, batch)));
          await resetTable(sql);
        }
        const ms = (key: string) => (times[key]?.length === run + 1 ? ` ${key.split('_')[0]} ${times[key]!.at(-1)!.toFixed(1)} ms` : '');
        console.error(`${size} entries, run ${run + 1}/${RUNS[size]}:${ms(`http_${size}`)}${ms(`floor_${size}`)}${ms(`naive_${size}`)}`);
      }
    }
    console.error('16 clients, 10-entry batches...');
    const prepared = await prepareClients(server.url, await server.token('clients'), existing, { clients: 16, batchSize: 10, seconds: quick ? 3 : 8 });
    let clients!: ClientsResult;
    const cpu = await cpuPerBatch(server.pid, database.name, async () => {
      clients = await prepared.run();
      return clients.sent;
    });
    report(times, clients, cpu, rss100k, server.peakRssMiB(), version, mismatches);
  } finally {
    await sql.end();
    await server.stop();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Request to response, the request made beforehand (a client's JSON.stringify is not the server's cost). */
async function timeHttp(url: string, token: string, batch: Entry[], sql: pg.Client): Promise<number> {
  await resetTable(sql);
  const post = await preparePost(url, token, JSON.stringify({ client_id: randomUUID(), batch }));
  const start = performance.now();
  const result = await post.send();
  const ms = performance.now() - start;
  if (result.applied !== batch.length || result.rejected.length > 0) throw new Error(`unexpected result: applied ${result.applied} of ${batch.length}`);
  return ms;
}

function report(
  times: Record<string, number[]>,
  clients: ClientsResult,
  cpu: CpuPerBatch,
  rss100k: number[],
  rssPeak: number,
  version: string,
  mismatches: string[],
) {
  const rate = (key: string, size: number) => (times[key] ? size / (median(times[key]!) / 1000) : NaN);
  const rows: string[][] = [['strategy', 'entries', 'median ms', 'entries/s', 'spread', 'runs']];
  for (const size of SIZES) {
    for (const name of ['http', 'floor', 'naive']) {
      const key = `${name}_${size}`;
      const xs = times[key];
      if (!xs) continue;
      rows.push([name, String(size), median(xs).toFixed(1), Math.round(rate(key, size)).toLocaleString('en'), `${(spread(xs) * 100).toFixed(0)}%`, String(xs.length)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, Postgres ${version}; each run meets the seeded table ${TABLE_STATE}`);
  const ratioFloor = median(times.floor_10000) / median(times.http_10000);
  const ratioNaive = median(times.naive_10000) / median(times.http_10000);
  // --clients-only: no single batches were timed.
  if (rows.length > 1) {
    console.log(line(rows[0]!));
    for (const r of rows.slice(1)) console.log(line(r));
    console.log(`\n10,000 entries: ${ratioFloor.toFixed(2)} of the SQL floor (target >= 0.6), ${ratioNaive.toFixed(1)}x the naive baseline (target >= 10)`);
    console.log(
      `server peak RSS (VmHWM) after each 100,000-entry batch: ${rss100k.map((r) => r.toFixed(0)).join(', ')} MiB (target < 400); ${rssPeak.toFixed(0)} MiB at the end`,
    );
  }
  console.log(
    `16 clients x 10 entries: ${clients.batchesPerSecond.toFixed(0)} batches/s, p50 ${clients.p50.toFixed(1)} ms, p99 ${clients.p99.toFixed(1)} ms (targets >= 2000/s, p99 < 50 ms)`,
  );
  console.log(
    `  CPU per batch: server ${cpu.server.toFixed(2)} ms, Postgres ${cpu.postgres.toFixed(2)} ms, clients ${cpu.clients.toFixed(2)} ms (${cpus().length} cores: at most ${Math.round((cpus().length * 1000) / (cpu.server + cpu.postgres + cpu.clients))} batches/s)`,
  );
  if (mismatches.length > 0) console.log(`WARNING: the floor and writepath ended with different tables: ${mismatches.join('; ')}`);
  const medians = Object.fromEntries(Object.entries(times).map(([k, xs]) => [`${k}_ms`, Number(median(xs).toFixed(1))]));
  console.log(
    JSON.stringify({
      machine: { cores: cpus().length, node: process.version, postgres: version },
      table: TABLE_STATE,
      ...medians,
      ratio_floor_10000: Number(ratioFloor.toFixed(3)),
      ratio_naive_10000: Number(ratioNaive.toFixed(2)),
      rss_peak_100000_mib: Math.round(Math.max(...rss100k)),
      rss_after_first_100000_mib: Math.round(rss100k[0] ?? NaN),
      clients_batches_per_s: Math.round(clients.batchesPerSecond),
      clients_p50_ms: Number(clients.p50.toFixed(2)),
      clients_p99_ms: Number(clients.p99.toFixed(2)),
      clients_cpu_ms_per_batch: { server: Number(cpu.server.toFixed(3)), postgres: Number(cpu.postgres.toFixed(3)), clients: Number(cpu.clients.toFixed(3)) },
      table_mismatches: mismatches.length,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
