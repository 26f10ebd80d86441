import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';

/**
 * A URL of the test MongoDB server naming a database of its own (created by its first
 * write), so each test file (or test) works apart from the others.
 */
export function createMongoTestDatabase(prefix = 'wp'): string {
  const url = new URL(inject('mongoUrl'));
  url.pathname = `/${prefix}_${randomBytes(6).toString('hex')}`;
  return url.toString();
}

/** Runs `work` on the database of a URL and closes the connection. */
export async function withMongo<T>(url: string, work: (db: Db) => Promise<T>): Promise<T> {
  const client = new MongoClient(url);
  try {
    return await work(client.db());
  } finally {
    await client.close();
  }
}
