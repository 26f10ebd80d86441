import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/postgres/embedded.ts';
import { startJongodb, type MongoTestServer } from './mongo-server.ts';

let server: EmbeddedServer | undefined;
let mongo: MongoTestServer | undefined;
let dataDir: string | undefined;

/**
 * Starts one Postgres for the whole run unless PG_TEST_URL names one, and one MongoDB-wire
 * server (jongodb) unless MONGO_TEST_URL names one; every test file then creates its own
 * database on them (see test/support/pg.ts and mongo.ts), so files can run in parallel.
 */
export async function setup(project: TestProject): Promise<void> {
  const [url, mongoUrl] = await Promise.all([postgresUrl(), mongoUrlForRun()]);
  project.provide('pgUrl', url);
  project.provide('mongoUrl', mongoUrl);
}

async function postgresUrl(): Promise<string> {
  if (process.env.PG_TEST_URL) return process.env.PG_TEST_URL;
  dataDir = await mkdtemp(join(tmpdir(), 'writepath-test-pg-'));
  server = await startEmbeddedPostgres({ dataDir, port: 0 });
  return server.url;
}

async function mongoUrlForRun(): Promise<string> {
  if (process.env.MONGO_TEST_URL) return process.env.MONGO_TEST_URL;
  mongo = await startJongodb();
  return mongo.url;
}

export async function teardown(): Promise<void> {
  await mongo?.stop();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    mongoUrl: string;
  }
}
