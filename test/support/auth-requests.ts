import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { sql } from './pg.ts';
import { postBatch } from './server.ts';

/** A one-entry batch for a fresh client. */
export function oneList(clientId: string = randomUUID()) {
  return { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'x' } }] };
}

/** Posts a batch with `authorization` as the header's whole value (undefined: no header). */
export async function postWithAuthorization(url: string, authorization: string | undefined, body: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${url}/api/data`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any, headers: response.headers };
}

/**
 * Posts a batch with `token` and expects it refused with `status` and `code`, with nothing
 * of it in the database, not even a ledger row.
 */
export async function expectRefused(server: { url: string; databaseUrl: string }, token: string, status: number, code: string, label = code) {
  const clientId = randomUUID();
  const answer = await postBatch(server, token, oneList(clientId));
  expect({ label, status: answer.status, body: answer.body }).toEqual({ label, status, body: { error: { code, message: expect.any(String) } } });
  expect(await sql(server.databaseUrl, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId])).toEqual([]);
  return answer;
}

/** Posts a batch with `token`, expects 200, and returns the user the ledger recorded it under. */
export async function expectAccepted(server: { url: string; databaseUrl: string }, token: string, label = 'accepted'): Promise<string> {
  const clientId = randomUUID();
  const answer = await postBatch(server, token, oneList(clientId));
  expect({ label, status: answer.status, body: answer.body }).toMatchObject({ label, status: 200, body: { applied: 1 } });
  const rows = await sql<{ user_id: string }>(server.databaseUrl, 'SELECT user_id FROM writepath_ledger WHERE client_id = $1', [clientId]);
  return rows[0]!.user_id;
}
