import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneList, postWithAuthorization } from './support/auth-requests.ts';
import { readAnswer } from './support/library.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { captureLogs } from './support/logs.ts';

const ADMIN_TOKEN = 'admin-token-for-the-tests-0123456789';
const ADMIN_PATHS = ['/metrics', '/dashboard', '/admin/rejections', '/admin/clients', '/admin/stats'];

let withoutToken: TestServer;
let server: TestServer;

const logs = { withoutToken: [] as string[], withToken: [] as string[] };
const capture = (into: string[]) => captureLogs(into).logger;

beforeAll(async () => {
  [withoutToken, server] = await Promise.all([
    startTestServer({ logger: capture(logs.withoutToken) }),
    startTestServer({ logger: capture(logs.withToken), config: { admin: { token: ADMIN_TOKEN } } }),
  ]);
});
afterAll(async () => {
  await Promise.all([withoutToken?.close(), server?.close()]);
});

async function get(base: TestServer, path: string, authorization?: string) {
  return readAnswer(await fetch(`${base.url}${path}`, { headers: authorization === undefined ? {} : { authorization } }));
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('start-up log', () => {
  it('says whether the admin endpoints are on, and never holds the token', async () => {
    expect(logs.withoutToken.join('')).toContain('admin.token is not set: /metrics, /dashboard and /admin/* are disabled (404)');
    expect(logs.withToken.join('')).toContain('admin.token is set');
    await get(server, '/metrics', `Bearer ${ADMIN_TOKEN}x`);
    await get(server, '/dashboard', basic('admin', ADMIN_TOKEN));
    expect(logs.withToken.join('')).not.toContain(ADMIN_TOKEN);
  });
});

describe('without admin.token', () => {
  it('answers 404 on every admin path, whatever the credential', async () => {
    for (const path of ADMIN_PATHS) {
      for (const authorization of [undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${await withoutToken.token('u1')}`]) {
        const answer = await get(withoutToken, path, authorization);
        expect({ path, status: answer.status, code: answer.body.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
      }
    }
  });
});

describe('with admin.token', () => {
  it('answers 401 admin_token_missing without an Authorization header, with a challenge', async () => {
    for (const path of ADMIN_PATHS) {
      const answer = await get(server, path);
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 401,
        body: { error: { code: 'admin_token_missing', message: expect.stringContaining('admin.token') } },
      });
      const challenge = path === '/dashboard' ? 'Basic realm="writepath", charset="UTF-8"' : 'Bearer realm="writepath"';
      expect(answer.headers.get('www-authenticate')).toBe(challenge);
    }
  });

  it('answers 401 admin_token_invalid for a wrong token, a user JWT, another scheme and a near miss', async () => {
    const userJwt = await server.token('u1');
    const wrong = ['Bearer wrong', `Bearer ${userJwt}`, `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, `Token ${ADMIN_TOKEN}`, ADMIN_TOKEN];
    for (const path of ADMIN_PATHS) {
      for (const authorization of wrong) {
        const answer = await get(server, path, authorization);
        expect({ path, authorization, status: answer.status, code: answer.body.error?.code }).toEqual({ path, authorization, status: 401, code: 'admin_token_invalid' });
      }
    }
  });

  it('guards the HEAD routes fastify adds as well', async () => {
    for (const path of ADMIN_PATHS) {
      const head = await fetch(`${server.url}${path}`, { method: 'HEAD' });
      expect({ path, status: head.status }).toEqual({ path, status: 401 });
      const open = await fetch(`${server.url}${path}`, { method: 'HEAD', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect({ path, status: open.status }).toEqual({ path, status: 200 });
    }
  });

  it('never reads the token from the query string', async () => {
    for (const path of ADMIN_PATHS) {
      for (const name of ['token', 'access_token', 'admin_token']) {
        const answer = await get(server, `${path}?${name}=${ADMIN_TOKEN}`);
        expect({ path, name, status: answer.status }).toEqual({ path, name, status: 401 });
      }
    }
  });

  it('opens every admin path to Authorization: Bearer <admin.token>', async () => {
    for (const path of ADMIN_PATHS) {
      const answer = await get(server, path, `Bearer ${ADMIN_TOKEN}`);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
    // Any case of the scheme, spaces around the token.
    expect((await get(server, '/metrics', `bearer   ${ADMIN_TOKEN}  `)).status).toBe(200);
    // A header of spaces is a wrong credential like any other.
    expect((await get(server, '/metrics', `Bearer a${' '.repeat(8000)}b`)).status).toBe(401);
  });

  it('takes Basic auth with the token as the password on the dashboard only', async () => {
    const dashboard = await get(server, '/dashboard', basic('anyone', ADMIN_TOKEN));
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect((await get(server, '/dashboard', basic('', ADMIN_TOKEN))).status).toBe(200);
    // A password holding a colon: only the user name ends at the first one.
    expect((await get(server, '/dashboard', basic('admin', `${ADMIN_TOKEN}:`))).status).toBe(401);
    expect((await get(server, '/dashboard', basic(ADMIN_TOKEN, 'x'))).status).toBe(401);
    expect((await get(server, '/dashboard', `Basic ${Buffer.from(ADMIN_TOKEN).toString('base64')}`)).status).toBe(401);
    const metrics = await get(server, '/metrics', basic('admin', ADMIN_TOKEN));
    expect({ status: metrics.status, code: metrics.body.error?.code }).toEqual({ status: 401, code: 'admin_token_invalid' });
  });

  it('does not let the admin token post batches: it is no user token', async () => {
    const answer = await postWithAuthorization(server.url, `Bearer ${ADMIN_TOKEN}`, oneList());
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toMatch(/^token_/);
  });
});
