import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { expectAccepted, expectRefused } from './support/auth-requests.ts';
import { startJwksServer, type JwksServer } from './support/jwks-server.ts';
import { makeKey } from './support/keys.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { startTestServer, type TestServer } from './support/server.ts';

// auth.jwt.jwks_url end to end: a real key server on 127.0.0.1 that rotates, floods and dies.

let databaseUrl: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  await sql(databaseUrl, exampleSchemaSql);
});
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function keyServer(...args: Parameters<typeof startJwksServer>): Promise<JwksServer> {
  const server = await startJwksServer(...args);
  cleanups.push(() => server.close());
  return server;
}

async function serve(jwksUrl: string, cooldownMs: number): Promise<TestServer> {
  const server = await startTestServer({ databaseUrl, config: { auth: { jwt: { jwks_url: jwksUrl, jwks_cooldown_ms: cooldownMs } } } });
  cleanups.push(() => server.close());
  return server;
}

describe('auth.jwt.jwks_url', () => {
  it('follows a key rotation: the new kid verifies after a refetch, the old one fails once its key is gone', async () => {
    const oldKey = await makeKey('RS256', 'key-2024');
    const newKey = await makeKey('RS256', 'key-2025');
    const keys = await keyServer({ keys: [oldKey.jwk] });
    const server = await serve(keys.url, 500);

    expect(await expectAccepted(server, await oldKey.sign({ sub: 'before' }))).toBe('before');
    expect(await expectAccepted(server, await oldKey.sign({ sub: 'before' }))).toBe('before');
    expect(keys.requests).toBe(1);

    keys.answer({ keys: [newKey.jwk] });
    await sleep(550);
    expect(await expectAccepted(server, await newKey.sign({ sub: 'after' }))).toBe('after');
    expect(keys.requests).toBe(2);
    await expectRefused(server, await oldKey.sign(), 401, 'token_signature', 'old kid, within the cooldown');
    await sleep(550);
    await expectRefused(server, await oldKey.sign(), 401, 'token_signature', 'old kid, refetched');
    expect(keys.requests).toBe(3);
    expect(await expectAccepted(server, await newKey.sign({ sub: 'after' }))).toBe('after');
  });

  it('bounds refetches under a flood of unknown-kid tokens to one per cooldown', async () => {
    const key = await makeKey('ES256');
    const keys = await keyServer({ keys: [key.jwk] });
    const server = await serve(keys.url, 1000);
    await expectAccepted(server, await key.sign());
    const flood = async () => {
      const forgers = await Promise.all(Array.from({ length: 8 }, () => makeKey('ES256')));
      const tokens = await Promise.all(forgers.flatMap((f) => Array.from({ length: 5 }, () => f.sign())));
      await Promise.all(tokens.map((t) => expectRefused(server, t, 401, 'token_signature')));
    };
    await flood();
    expect(keys.requests).toBe(1); // all within the cooldown of the first fetch
    await sleep(1050);
    await flood();
    expect(keys.requests).toBe(2);
    await expectAccepted(server, await key.sign()); // the real key still verifies from the cache
    expect(keys.requests).toBe(2);
  });

  it('answers 503 with Retry-After, nothing applied, while the key server cannot be reached, and asks it once per cooldown', async () => {
    const key = await makeKey('RS256');
    const answers = [{ status: 500, body: 'internal' }, { status: 200, body: '{"keys": "nope"}' }, { status: 200, body: 'not json' }];
    for (const answer of answers) {
      const keys = await keyServer(answer);
      const server = await serve(keys.url, 2000);
      for (let i = 0; i < 5; i++) {
        const refused = await expectRefused(server, await key.sign(), 503, 'key_server_unavailable', JSON.stringify(answer));
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(2);
      }
      expect(keys.requests).toBe(1);
    }
    const gone = await keyServer({ keys: [] });
    await gone.close();
    const server = await serve(gone.url, 2000);
    await expectRefused(server, await key.sign(), 503, 'key_server_unavailable', 'connection refused');
  });

  it('keeps verifying cached keys when the key server goes down, and answers 503 for a kid it would have to fetch', async () => {
    const key = await makeKey('EdDSA');
    const keys = await keyServer({ keys: [key.jwk] });
    const server = await serve(keys.url, 500);
    await expectAccepted(server, await key.sign());
    await keys.close();
    await expectAccepted(server, await key.sign());
    await sleep(550);
    const unknown = await makeKey('EdDSA', randomUUID());
    const refused = await expectRefused(server, await unknown.sign(), 503, 'key_server_unavailable');
    expect(refused.headers.get('retry-after')).toBe('1');
    // Inside the cooldown of the failed request: answered without asking again (counted in auth-remote-jwks.test.ts).
    await expectRefused(server, await unknown.sign(), 503, 'key_server_unavailable');
    await expectAccepted(server, await key.sign());
  });
});
