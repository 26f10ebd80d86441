import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** URL of the test Postgres server (embedded, or PG_TEST_URL). */
export function serverUrl(): string {
  return inject('pgUrl');
}

/**
 * Creates a fresh database on the test server and returns its URL, so each test file
 * (or test) works on its own schema without cleaning up after the others.
 */
export async function createTestDatabase(prefix = 'wp'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs SQL on a database and closes the connection. */
export async function sql<T extends pg.QueryResultRow = any>(url: string, text: string, params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}
