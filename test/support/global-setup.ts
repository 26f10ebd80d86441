import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/postgres/embedded.ts';

let server: EmbeddedServer | undefined;
let dataDir: string | undefined;

/**
 * Starts one Postgres for the whole run unless PG_TEST_URL names one; every test file then
 * creates its own database on it (see test/support/pg.ts), so files can run in parallel.
 */
export async function setup(project: TestProject): Promise<void> {
  let url = process.env.PG_TEST_URL;
  if (!url) {
    dataDir = await mkdtemp(join(tmpdir(), 'writepath-test-pg-'));
    server = await startEmbeddedPostgres({ dataDir, port: 0 });
    url = server.url;
  }
  project.provide('pgUrl', url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}
