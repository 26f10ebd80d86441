import { generateKeyPairSync } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToken } from '../src/cli/token.ts';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { expectAccepted, expectRefused } from './support/auth-requests.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { signTestToken, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';

// GET /api/auth/token and GET /api/auth/keys (auth.dev_tokens), and `writepath token`.

let databaseUrl: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  await sql(databaseUrl, exampleSchemaSql);
});
afterAll(() => Promise.all(servers.map((s) => s.close())));

async function serve(auth?: Record<string, unknown>): Promise<TestServer> {
  const server = await startTestServer({ databaseUrl, config: auth ? { auth } : {} });
  servers.push(server);
  return server;
}

async function getToken(server: TestServer, query = ''): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.url}/api/auth/token${query}`);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

describe('dev token endpoints', () => {
  it('do not exist unless auth.dev_tokens.enabled', async () => {
    const server = await serve();
    for (const path of ['/api/auth/token', '/api/auth/keys']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(404);
    }
    const off = await serve({ jwt: { secret: TEST_SECRET }, dev_tokens: { enabled: false, user_id: 'u1' } });
    expect((await fetch(`${off.url}/api/auth/token`)).status).toBe(404);
  });

  describe('with a key pair made at start', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await serve({ jwt: { secret: TEST_SECRET }, dev_tokens: { enabled: true, powersync_url: 'http://localhost:8089' } });
    });

    it('hands out tokens /api/data accepts, for one default user unless ?user_id= names another', async () => {
      const first = await getToken(server);
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-store');
      expect(first.body).toEqual({ token: expect.any(String), user_id: expect.stringMatching(/^[0-9a-f-]{36}$/), powersync_url: 'http://localhost:8089' });
      expect(decodeProtectedHeader(first.body.token)).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
      expect(await expectAccepted(server, first.body.token)).toBe(first.body.user_id);
      expect((await getToken(server)).body.user_id).toBe(first.body.user_id); // a refresh keeps the user

      const named = await getToken(server, '?user_id=u9');
      expect(named.body.user_id).toBe('u9');
      expect(await expectAccepted(server, named.body.token)).toBe('u9');
      // The HS256 secret keeps working alongside.
      expect(await expectAccepted(server, await signTestToken('u1'))).toBe('u1');
    });

    it('publishes the public key only, and its tokens verify against it as a PowerSync service would', async () => {
      const response = await fetch(`${server.url}/api/auth/keys`);
      expect(response.status).toBe(200);
      const jwks = (await response.json()) as { keys: Array<Record<string, unknown>> };
      expect(jwks.keys).toHaveLength(1);
      expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });

      const { body } = await getToken(server, '?user_id=someone');
      const keys = createRemoteJWKSet(new URL(`${server.url}/api/auth/keys`));
      const { payload, protectedHeader } = await jwtVerify(body.token, keys, { algorithms: ['RS256'] });
      expect(protectedHeader.kid).toBe(jwks.keys[0]!.kid);
      expect(payload).toMatchObject({ sub: 'someone', exp: expect.any(Number), iat: expect.any(Number) });
      expect(payload.exp! - payload.iat!).toBe(3600);
    });

    it('refuses an unusable user_id with 400', async () => {
      for (const query of ['?user_id=', `?user_id=${'x'.repeat(256)}`, '?user_id=a&user_id=b']) {
        const answer = await getToken(server, query);
        expect({ query, status: answer.status, code: answer.body.error?.code }).toEqual({ query, status: 400, code: 'invalid_user_id' });
      }
    });

    it('does not make the server accept tokens signed by another server’s dev key', async () => {
      const other = await serve({ dev_tokens: { enabled: true } });
      const { body } = await getToken(other);
      await expectRefused(server, body.token, 401, 'token_signature');
    });
  });

  describe('with a configured private key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const auth = {
      jwt: { issuer: 'https://dev.test', audience: 'powersync-dev', user_claim: 'user_id' },
      dev_tokens: { enabled: true, private_key: pem, kid: 'dev-key-1', user_id: 'dev-user' },
    };

    it('signs with it under its kid, with the configured issuer, audience and user claim', async () => {
      const server = await serve(auth);
      const { body } = await getToken(server);
      expect(body).toEqual({ token: expect.any(String), user_id: 'dev-user' });
      const keys = (await (await fetch(`${server.url}/api/auth/keys`)).json()) as { keys: Array<Record<string, unknown>> };
      expect(keys.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: 'dev-key-1', alg: 'EdDSA', use: 'sig' }]);
      const { payload } = await jwtVerify(body.token, createRemoteJWKSet(new URL(`${server.url}/api/auth/keys`)), {
        issuer: 'https://dev.test',
        audience: 'powersync-dev',
      });
      expect(payload).toMatchObject({ sub: 'dev-user', user_id: 'dev-user' });
      expect(await expectAccepted(server, body.token)).toBe('dev-user');
    });

    it('is what `writepath token` signs with, so its tokens are accepted too', async () => {
      const server = await serve(auth);
      const env = {
        WRITEPATH_AUTH__JWT__ISSUER: 'https://dev.test',
        WRITEPATH_AUTH__JWT__AUDIENCE: 'powersync-dev',
        WRITEPATH_AUTH__JWT__USER_CLAIM: 'user_id',
        WRITEPATH_AUTH__DEV_TOKENS__ENABLED: 'true',
        WRITEPATH_AUTH__DEV_TOKENS__PRIVATE_KEY: pem,
        WRITEPATH_AUTH__DEV_TOKENS__KID: 'dev-key-1',
      };
      const token = await runToken({ sub: 'cli-user', ttl: '5m', env });
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', kid: 'dev-key-1' });
      expect(await expectAccepted(server, token)).toBe('cli-user');
    });
  });
});
