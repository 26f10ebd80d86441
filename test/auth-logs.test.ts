import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWithAuthorization, oneList } from './support/auth-requests.ts';
import { startJwksServer } from './support/jwks-server.ts';
import { makeKey, signWith, unsignedToken } from './support/keys.ts';
import { sql } from './support/pg.ts';
import { postBatch, signTestToken, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';
import { captureLogs } from './support/logs.ts';

// Tokens and the Authorization header never reach the logs, at any level, on any path.

const { lines, logger } = captureLogs();

let server: TestServer;
let keyServerDown: TestServer;

beforeAll(async () => {
  server = await startTestServer({ logger, config: { auth: { jwt: { secret: TEST_SECRET }, dev_tokens: { enabled: true } } } });
  const gone = await startJwksServer({ keys: [] });
  await gone.close();
  keyServerDown = await startTestServer({ logger, config: { auth: { jwt: { jwks_url: gone.url } } } });
});
afterAll(async () => {
  await server?.close();
  await keyServerDown?.close();
});

describe('logs', () => {
  it('never contain a token or the Authorization header, whatever the request ends with', async () => {
    const secrets: string[] = [];
    const send = async (target: TestServer, authorization: string, body: unknown = oneList()) => {
      secrets.push(authorization);
      return (await postWithAuthorization(target.url, authorization, body)).status;
    };
    const now = Math.floor(Date.now() / 1000);
    const key = new TextEncoder().encode(TEST_SECRET);

    expect(await send(server, `Bearer ${await signTestToken('u1')}`)).toBe(200);
    expect(await send(server, `Bearer ${await signTestToken('u1', 'another-secret-of-at-least-32-characters')}`)).toBe(401);
    expect(await send(server, `Bearer ${await signWith(key, { alg: 'HS256' }, { exp: now - 3600 })}`)).toBe(401);
    expect(await send(server, `Bearer ${unsignedToken()}`)).toBe(401);
    expect(await send(server, 'Bearer definitely-not-a-jwt-4f1d0c')).toBe(401);
    expect(await send(server, 'Basic dXNlcjpwYXNzd29yZC0xMjM0NQ==')).toBe(401);
    // 400 and 413 after a good token.
    expect(await send(server, `Bearer ${await signTestToken('u2')}`, { client_id: 'c', batch: 'no' })).toBe(400);

    // A token handed out by the dev endpoint, then used.
    const issued = (await (await fetch(`${server.url}/api/auth/token?user_id=u3`)).json()) as { token: string };
    secrets.push(issued.token);
    expect(await send(server, `Bearer ${issued.token}`)).toBe(200);

    // 503: the key server is down (logged at error level with its cause).
    expect(await send(keyServerDown, `Bearer ${await (await makeKey('ES256')).sign()}`)).toBe(503);

    // 500: a configured table dropped under the running server (the server's own problem).
    const clientId = randomUUID();
    await sql(server.databaseUrl, 'DROP TABLE todos');
    const token = await signTestToken('u4');
    secrets.push(token);
    const failed = await postBatch(server, token, { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'x' } }] });
    expect(failed.status).toBeGreaterThanOrEqual(500);

    const log = lines.join(''); require('node:fs').writeFileSync('/tmp/wp-log.txt', log);
    const entries = lines.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as { level: number; msg?: string });
    // The capture works and saw every kind of request, errors included.
    expect(entries.filter((e) => e.msg === 'incoming request').length).toBeGreaterThanOrEqual(secrets.length);
    expect(entries.filter((e) => e.level >= 50).length).toBeGreaterThanOrEqual(2);

    for (const secret of secrets) {
      const credential = secret.replace(/^(Bearer|Basic) /, '');
      expect(log).not.toContain(credential);
      // Not even a part of it: the signature, or a payload naming the user.
      for (const part of credential.split('.').filter((p) => p.length > 16)) expect(log).not.toContain(part);
    }
    expect(log.toLowerCase()).not.toContain('authorization');
    expect(log).not.toContain('Bearer');
  });
});
