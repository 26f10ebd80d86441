import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/postgres/embedded.ts';

export interface BenchDatabase {
  /** URL of the fresh database. */
  url: string;
  /** Its name. */
  name: string;
  /** `server_version` of the Postgres it runs on. */
  version: string;
  /** Stops the embedded Postgres, if one was started, and removes its files. */
  close(): Promise<void>;
}

/**
 * A freshly created database `name` on an embedded Postgres started for the benchmark, or
 * on the server `PG_BENCH_URL` names.
 */
export async function openBenchDatabase(name: string): Promise<BenchDatabase> {
  let embedded: EmbeddedServer | undefined;
  let pgDir: string | undefined;
  let serverUrl = process.env.PG_BENCH_URL;
  if (!serverUrl) {
    // A directory of its own: Postgres runs as another user when started as root.
    pgDir = mkdtempSync(join(tmpdir(), 'writepath-bench-pg-'));
    embedded = await startEmbeddedPostgres({ dataDir: pgDir, port: 0 });
    serverUrl = embedded.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const version = (await admin.query('SHOW server_version')).rows[0].server_version as string;
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    version,
    async close() {
      await embedded?.stop();
      if (pgDir) rmSync(pgDir, { recursive: true, force: true });
    },
  };
}
