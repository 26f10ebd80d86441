import { setTimeout as sleep } from 'node:timers/promises';
import { errors, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteKeySet } from '../src/auth/remote-jwks.ts';
import { KeyServerUnavailable } from '../src/auth/token-errors.ts';
import { startJwksServer, type JwksServer } from './support/jwks-server.ts';
import { makeKey } from './support/keys.ts';

// The key cache on its own, against a real HTTP server: what it fetches and when.

let server: JwksServer | undefined;
afterEach(() => server?.close());

const verify = (token: string, keys: RemoteKeySet) => jwtVerify(token, keys.getKey, { algorithms: ['ES256'] });

describe('RemoteKeySet', () => {
  it('fetches once, then verifies known kids from the cache', async () => {
    const key = await makeKey('ES256');
    server = await startJwksServer({ keys: [key.jwk] });
    const keys = new RemoteKeySet(new URL(server.url), { cooldownMs: 60_000 });
    for (let i = 0; i < 5; i++) await verify(await key.sign(), keys);
    expect(server.requests).toBe(1);
  });

  it('refetches for an unknown kid at most once per cooldown, also under concurrent requests', async () => {
    const key = await makeKey('ES256');
    const stranger = await makeKey('ES256');
    server = await startJwksServer({ keys: [key.jwk] });
    const keys = new RemoteKeySet(new URL(server.url), { cooldownMs: 1000 });
    const flood = async () => {
      const tokens = await Promise.all(Array.from({ length: 30 }, () => stranger.sign()));
      const results = await Promise.allSettled(tokens.map((t) => verify(t, keys)));
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof errors.JWKSNoMatchingKey)).toBe(true);
    };
    await verify(await key.sign(), keys);
    await flood(); // within the cooldown of the first fetch: no request at all
    for (let i = 0; i < 10; i++) await expect(verify(await stranger.sign(), keys)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(server.requests).toBe(1);
    await sleep(1050);
    await flood(); // cooldown over: one refetch for the whole flood
    expect(server.requests).toBe(2);
  });

  it('does not ask a failing key server again within the cooldown', async () => {
    server = await startJwksServer({ status: 500, body: 'oops' });
    const key = await makeKey('ES256');
    const keys = new RemoteKeySet(new URL(server.url), { cooldownMs: 2500 });
    for (let i = 0; i < 10; i++) {
      const error = await verify(await key.sign(), keys).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyServerUnavailable);
      expect((error as KeyServerUnavailable).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((error as KeyServerUnavailable).retryAfterSeconds).toBeLessThanOrEqual(3);
    }
    expect(server.requests).toBe(1);
  });

  it('treats refused connections, timeouts, redirects, non-JSON and non-JWKS answers as unavailable', async () => {
    const key = await makeKey('ES256');
    const answers = [
      { hang: true as const },
      { status: 302, body: '' },
      { status: 404, body: 'no' },
      { status: 200, body: '<html>' },
      { status: 200, body: '{"keys": 3}' },
    ];
    for (const answer of answers) {
      server = await startJwksServer(answer);
      const keys = new RemoteKeySet(new URL(server.url), { cooldownMs: 0, timeoutMs: 200 });
      await expect(verify(await key.sign(), keys), JSON.stringify(answer)).rejects.toBeInstanceOf(KeyServerUnavailable);
      await server.close();
    }
    const refused = new RemoteKeySet(new URL(server!.url), { cooldownMs: 0 });
    await expect(verify(await key.sign(), refused)).rejects.toBeInstanceOf(KeyServerUnavailable);
  });

  it('keeps using cached keys when a refresh fails, and reports unknown kids as unavailable meanwhile', async () => {
    const key = await makeKey('ES256');
    const other = await makeKey('ES256');
    server = await startJwksServer({ keys: [key.jwk] });
    const keys = new RemoteKeySet(new URL(server.url), { cooldownMs: 300, maxAgeMs: 300 });
    await verify(await key.sign(), keys);
    server.answer({ status: 503 });
    await sleep(320);
    await verify(await key.sign(), keys); // stale, the refresh failed: the known key still verifies
    expect(server.requests).toBe(2);
    await expect(verify(await other.sign(), keys)).rejects.toBeInstanceOf(KeyServerUnavailable);
    expect(server.requests).toBe(2); // within the cooldown of the failed request
    server.answer({ keys: [key.jwk, other.jwk] });
    await sleep(320);
    await verify(await other.sign(), keys);
    expect(server.requests).toBe(3);
  });
});
