import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, signTestToken, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';

const MAX_BODY = 4096;
const MAX_OPS = 5;

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ config: { server: { max_body_bytes: MAX_BODY, max_batch_ops: MAX_OPS } } });
  token = await server.token('u1');
});
afterAll(() => server?.close());

function oneList(clientId: string) {
  return { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'x' } }] };
}

/** Nothing of a refused request may reach the database: not even a ledger row. */
async function expectNothingFor(clientId: string) {
  const rows = await sql(server.databaseUrl, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId]);
  expect(rows).toEqual([]);
}

async function expectError(answer: { status: number; body: any }, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.body).toEqual({ error: { code, message: expect.any(String) } });
}

describe('request checks, in the order of PROTOCOL.md 2.1', () => {
  it('answers 401 token_missing without a token, before looking at the content type', async () => {
    const clientId = randomUUID();
    const response = await fetch(`${server.url}/api/data`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    await expectError({ status: response.status, body: await response.json() }, 401, 'token_missing');
    await expectNothingFor(clientId);
  });

  it('answers 401 with the code of each token failure', async () => {
    const key = new TextEncoder().encode(TEST_SECRET);
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(key);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"u1"}').toString('base64url')}.`;
    const noSubject = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    const cases: Array<[string, string]> = [
      [await signTestToken('u1', 'another-secret-of-at-least-32-characters'), 'token_signature'],
      [unsigned, 'token_signature'],
      [expired, 'token_expired'],
      ['not.a.jwt', 'token_malformed'],
      [noSubject, 'token_malformed'],
    ];
    for (const [bad, code] of cases) {
      const clientId = randomUUID();
      await expectError(await postBatch(server, bad, oneList(clientId)), 401, code);
      await expectNothingFor(clientId);
    }
  });

  it('answers 415 for a body that is not application/json', async () => {
    const clientId = randomUUID();
    await expectError(await postBatch(server, token, JSON.stringify(oneList(clientId)), { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    await expectNothingFor(clientId);
  });

  it('answers 415 for a request without a content type, with or without a body', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const empty = await fetch(`${server.url}/api/data`, { method: 'POST', headers });
    await expectError({ status: empty.status, body: await empty.json() }, 415, 'unsupported_media_type');
    const clientId = randomUUID();
    const untyped = await fetch(`${server.url}/api/data`, { method: 'POST', headers, body: new Blob([JSON.stringify(oneList(clientId))]) });
    await expectError({ status: untyped.status, body: await untyped.json() }, 415, 'unsupported_media_type');
    await expectNothingFor(clientId);
  });

  it('accepts application/json with a charset, and gzip', async () => {
    const body = oneList(randomUUID());
    expect((await postBatch(server, token, body, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    const gzipped = await postBatch(server, token, gzipSync(JSON.stringify(oneList(randomUUID()))), { 'content-encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.body.applied).toBe(1);
  });

  it('answers 413 stating the limit for a body over max_body_bytes, counted after gzip is undone', async () => {
    const clientId = randomUUID();
    const big = { ...oneList(clientId), padding: 'x'.repeat(MAX_BODY) };
    const plain = await postBatch(server, token, big);
    await expectError(plain, 413, 'body_too_large');
    expect(plain.body.error.message).toContain(String(MAX_BODY));
    // Compresses far below the limit, inflates far above it: a small gzip bomb.
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(MAX_BODY * 20);
    await expectError(await postBatch(server, token, bomb, { 'content-encoding': 'gzip' }), 413, 'body_too_large');
    await expectNothingFor(clientId);
  });

  it('answers 400 for a body that is not JSON or not gzip', async () => {
    await expectError(await postBatch(server, token, '{"client_id": "c", "batch": ['), 400, 'invalid_json');
    await expectError(await postBatch(server, token, 'not gzip at all', { 'content-encoding': 'gzip' }), 400, 'invalid_gzip');
  });

  it('answers 413 for more entries than max_batch_ops', async () => {
    const clientId = randomUUID();
    const batch = Array.from({ length: MAX_OPS + 1 }, (_, i) => ({ op_id: i + 1, op: 'DELETE', type: 'lists', id: randomUUID() }));
    const answer = await postBatch(server, token, { client_id: clientId, batch });
    await expectError(answer, 413, 'too_many_operations');
    expect(answer.body.error.message).toContain(String(MAX_OPS));
    await expectNothingFor(clientId);
  });

  it('answers 400 for a request without a usable client_id, batch or op_ids', async () => {
    const entry = (opId: unknown) => ({ op_id: opId, op: 'DELETE', type: 'lists', id: randomUUID() });
    const bodies = [
      [],
      { batch: [entry(1)] },
      { client_id: '', batch: [entry(1)] },
      { client_id: 42, batch: [entry(1)] },
      { client_id: 'c\u0000', batch: [entry(1)] },
      { client_id: 'c'.repeat(201), batch: [entry(1)] },
      { client_id: 'c1', batch: { 0: entry(1) } },
      { client_id: 'c1', batch: [entry('1')] },
      { client_id: 'c1', batch: [entry(1.5)] },
      { client_id: 'c1', batch: [entry(0)] },
      { client_id: 'c1', batch: [entry(-3), entry(1)] },
      { client_id: 'c1', batch: [entry(2 ** 53)] },
      { client_id: 'c1', batch: [entry(2), entry(2)] },
      { client_id: 'c1', batch: [entry(3), entry(2)] },
      { client_id: 'c1', batch: ['PUT'] },
    ];
    for (const body of bodies) await expectError(await postBatch(server, token, body), 400, 'invalid_request');
    await expectNothingFor('c1');
  });

  it('answers /health and /ready', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});

describe('rate limit', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ config: { server: { rate_limit: { per_user_per_minute: 2 } } } });
  });
  afterAll(() => limited?.close());

  it('answers 429 with Retry-After once a user is over the limit, counting users apart', async () => {
    const u1 = await limited.token('u1');
    expect((await postBatch(limited, u1, oneList(randomUUID()))).status).toBe(200);
    expect((await postBatch(limited, u1, oneList(randomUUID()))).status).toBe(200);
    const clientId = randomUUID();
    const third = await postBatch(limited, u1, oneList(clientId));
    await expectError(third, 429, 'rate_limited');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    const rows = await sql(limited.databaseUrl, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId]);
    expect(rows).toEqual([]);
    expect((await postBatch(limited, await limited.token('u2'), oneList(randomUUID()))).status).toBe(200);
  });
});
