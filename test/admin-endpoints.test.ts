import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import type { Store } from '../src/core/store.ts';
import { buildApp } from '../src/server/app.ts';
import { openWritepath } from '../src/server/open.ts';
import { ADMIN_BACKENDS } from './support/admin-backends.ts';
import { readAnswer } from './support/library.ts';
import { postBatch, TEST_SECRET, type TestServer } from './support/server.ts';

const ADMIN_TOKEN = 'endpoints-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const HOUR_MS = 60 * 60 * 1000;
/** Two ledger moves a millisecond apart at least, so their order does not hang on the clock's resolution. */
const nextMillisecond = () => new Promise((resolve) => setTimeout(resolve, 2));

/** The admin endpoints through HTTP, the same tests on every Store that offers them. */
describe.each(ADMIN_BACKENDS)('admin endpoints: $name', (backend) => {
  let server: TestServer;
  const clients = { a: randomUUID(), b: randomUUID(), c: randomUUID() };
  const badTodo = (opId: number) => ({ op_id: opId, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'd', completed: 'yes' } });

  beforeAll(async () => {
    server = await backend.start({ admin: { token: ADMIN_TOKEN }, tables: { lists: {}, todos: { apply: 'exact' } } });
    const [u1, u2] = [await server.token('u1'), await server.token('u2')];
    const unknown = (opId: number) => ({ op_id: opId, op: 'PUT', type: 'nope', id: randomUUID(), data: {} });
    // u1/a: five unknown_table in one batch (one created_at: pages must split ties), then two invalid_value.
    await postBatch(server, u1, { client_id: clients.a, batch: [1, 2, 3, 4, 5].map(unknown) });
    await postBatch(server, u1, { client_id: clients.a, batch: [badTodo(6), badTodo(7)] });
    await postBatch(server, u1, { client_id: clients.b, batch: [unknown(1)] });
    await postBatch(server, u2, { client_id: clients.c, batch: [badTodo(40), { op_id: 41, op: 'PUT', type: '<script>alert(1)</script>', id: '"><img src=x>', data: {} }] });
  });
  afterAll(() => server?.close());

  async function get(path: string, headers: Record<string, string> = auth) {
    return readAnswer(await fetch(`${server.url}${path}`, { headers }));
  }

  describe('GET /admin/rejections', () => {
    it('lists rejections newest first, with what was sent', async () => {
      const { status, body } = await get('/admin/rejections');
      expect(status).toBe(200);
      expect(body.rejections).toHaveLength(10);
      expect(body.next).toBeUndefined();
      expect(body.rejections[0]).toMatchObject({ user_id: 'u2', client_id: clients.c, op_id: 41, code: 'unknown_table', type: '<script>alert(1)</script>', tx_id: null });
      // One batch shares one time: its latest entry comes first.
      expect(body.rejections[1]).toMatchObject({ client_id: clients.c, op_id: 40 });
      const times = body.rejections.map((r: any) => r.created_at);
      expect(times).toEqual([...times].sort().reverse());
      for (const time of times) expect(new Date(time).toISOString().slice(0, 23)).toBe(time.slice(0, 23));
      expect(body.rejections.find((r: any) => r.op_id === 6)).toMatchObject({
        code: 'invalid_value', column_name: 'completed', data: { description: 'd', completed: 'yes' }, old: null, metadata: null,
        message: 'todos.completed: expected 0, 1, true or false, got "yes"',
      });
    });

    it('filters by user, client and code, alone and together', async () => {
      const ops = async (query: string) => (await get(`/admin/rejections?${query}`)).body.rejections.map((r: any) => `${r.client_id === clients.a ? 'a' : r.client_id === clients.b ? 'b' : 'c'}${r.op_id}`).sort();
      expect(await ops('user_id=u2')).toEqual(['c40', 'c41']);
      expect(await ops(`client_id=${clients.b}`)).toEqual(['b1']);
      expect(await ops('code=invalid_value')).toEqual(['a6', 'a7', 'c40']);
      expect(await ops(`user_id=u1&client_id=${clients.a}&code=unknown_table`)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
      expect(await ops(`user_id=u2&client_id=${clients.a}`)).toEqual([]);
      // Empty parameters are no filter.
      expect(await ops('user_id=&client_id=&code=')).toHaveLength(10);
    });

    it('pages with limit and before, through rejections that share one commit time', async () => {
      const seen: string[] = [];
      let before: string | undefined;
      const sizes: number[] = [];
      do {
        const { status, body } = await get(`/admin/rejections?user_id=u1&code=unknown_table&limit=2${before ? `&before=${before}` : ''}`);
        expect(status).toBe(200);
        sizes.push(body.rejections.length);
        seen.push(...body.rejections.map((r: any) => r.id));
        before = body.next;
      } while (before);
      expect(sizes).toEqual([2, 2, 2]);
      expect(new Set(seen).size).toBe(6);
      const all = (await get('/admin/rejections?user_id=u1&code=unknown_table')).body.rejections.map((r: any) => r.id);
      expect(seen).toEqual(all);
    });

    it('caps limit at 500 and refuses a bad limit, code or cursor with 400', async () => {
      await backend.insertRejections(server, Array.from({ length: 501 }, (_, i) => ({ user_id: 'bulk', client_id: 'bulk-client', op_id: i + 1, code: 'forbidden', message: 'no' })));
      const capped = await get('/admin/rejections?user_id=bulk&limit=100000');
      expect(capped.body.rejections).toHaveLength(500);
      expect(capped.body.next).toEqual(expect.any(String));
      const rest = await get(`/admin/rejections?user_id=bulk&limit=500&before=${capped.body.next}`);
      expect({ length: rest.body.rejections.length, next: rest.body.next }).toEqual({ length: 1, next: undefined });
      const otherStores = Buffer.from('2026-01-01T00:00:00.000000Z|1|00000000-0000-0000-0000-000000000000').toString('base64url');
      for (const [query, code] of [['limit=0', 'invalid_limit'], ['limit=-1', 'invalid_limit'], ['limit=2.5', 'invalid_limit'], ['code=nope', 'invalid_code'], ['before=abc', 'invalid_cursor'], ['user_id=a&user_id=b', 'invalid_query']]) {
        const answer = await get(`/admin/rejections?${query}`);
        expect({ query, status: answer.status, code: answer.body.error.code }).toEqual({ query, status: 400, code });
      }
      // A cursor of the other Store's format is as foreign as any other text.
      const foreign = backend.name === 'postgres' ? Buffer.from('2026-01-01T00:00:00.000Z|1|0123456789abcdef01234567').toString('base64url') : otherStores;
      expect((await get(`/admin/rejections?before=${foreign}`)).body.error.code).toBe('invalid_cursor');
      // An op_id past the safe integers, in an otherwise well-formed cursor.
      const page = (await get('/admin/rejections?limit=1')).body;
      const keys = Buffer.from(page.next, 'base64url').toString('utf8').split('|');
      const huge = Buffer.from([keys[0], '99999999999999999', keys[2]].join('|')).toString('base64url');
      const answer = await get(`/admin/rejections?before=${huge}`);
      expect({ status: answer.status, code: answer.body.error.code }).toEqual({ status: 400, code: 'invalid_cursor' });
    });
  });

  describe('GET /admin/clients and /admin/stats', () => {
    it('lists ledger positions, filtered by user', async () => {
      const { body } = await get('/admin/clients?user_id=u1');
      expect(body.clients.map((c: any) => [c.client_id, c.last_op_id]).sort()).toEqual([[clients.a, 7], [clients.b, 1]].sort());
      expect(body.clients[0]).toEqual({ user_id: 'u1', client_id: expect.any(String), last_op_id: expect.any(Number), updated_at: expect.stringMatching(/Z$/) });
      expect((await get('/admin/clients?limit=1')).body.clients).toHaveLength(1);
    });

    it('counts the last 24 hours by code and describes the configured tables', async () => {
      await backend.insertRejections(server, [{ user_id: 'old', client_id: 'x', op_id: 1, code: 'conflict', message: 'old', created_at: new Date(Date.now() - 25 * HOUR_MS) }]);
      const { body } = await get('/admin/stats');
      expect(body.rejections_last_24h.by_code).toMatchObject({ unknown_table: 7, invalid_value: 3 });
      expect(body.rejections_last_24h.by_code.conflict).toBeUndefined();
      expect(body.tables).toEqual([backend.listsSummary, { name: 'todos', table: 'todos', path: 'exact', exact_reason: 'apply: exact' }]);
      expect(body.since_start.entries).toMatchObject({ rejected: 10, applied: 0 });
    });

    it('lists the most recently moved first; a batch of duplicates does not move a ledger', async () => {
      const token = await server.token('u4');
      const [older, newer] = [randomUUID(), randomUUID()];
      const first = { client_id: older, batch: [badTodo(1)] };
      await postBatch(server, token, first);
      await nextMillisecond();
      await postBatch(server, token, { client_id: newer, batch: [badTodo(1)] });
      const before = (await get('/admin/clients?user_id=u4')).body.clients;
      expect(before.map((c: any) => c.client_id)).toEqual([newer, older]);
      // The same batch again: all duplicates, the ledger stays where it was.
      expect((await postBatch(server, token, first)).body).toMatchObject({ duplicates: 1 });
      expect((await get('/admin/clients?user_id=u4')).body.clients).toEqual(before);
      await nextMillisecond();
      await postBatch(server, token, { client_id: older, batch: [badTodo(2)] });
      const after = (await get('/admin/clients?user_id=u4')).body.clients;
      expect(after.map((c: any) => [c.client_id, c.last_op_id])).toEqual([[older, 2], [newer, 1]]);
    });
  });

  describe('GET /dashboard and /metrics', () => {
    it('escapes what clients sent and forbids scripts', async () => {
      const hostile = { op_id: 1, op: 'PUT', type: '<script>alert(1)</script>', id: '"><img src=x>', data: {} };
      expect((await postBatch(server, await server.token('<b>u3</b>'), { client_id: randomUUID(), batch: [hostile] })).status).toBe(200);
      const { status, headers, body: text } = await get('/dashboard');
      expect(status).toBe(200);
      expect(headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'/);
      expect(text).not.toContain('<script');
      expect(text).not.toContain('<img');
      expect(text).not.toContain('<b>');
      expect(text).toContain('&lt;b&gt;u3&lt;/b&gt;');
      expect(text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(text).toContain('&quot;&gt;&lt;img src=x&gt;');
      expect(text).toContain('<td>todos</td><td>todos</td><td>exact</td><td>apply: exact</td>');
      expect(text).not.toContain('does not offer the admin queries');
    });

    it("exports the database pool's connections", async () => {
      // Just after a batch: a pool may drop its connections when idle or when the driver
      // loses sight of the server under load, and open them again when needed.
      await postBatch(server, await server.token('u5'), { client_id: randomUUID(), batch: [{ op_id: 1, op: 'DELETE', type: 'lists', id: randomUUID() }] });
      const text = (await get('/metrics')).body as string;
      const sample = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2]);
      expect(sample('writepath_db_pool_connections')).toBeGreaterThanOrEqual(1);
      expect(sample('writepath_db_pool_idle_connections')).toBeLessThanOrEqual(sample('writepath_db_pool_connections'));
      expect(sample('writepath_db_pool_waiting_requests')).toBe(0);
    });
  });

  describe('GET /dashboard with the database gone', () => {
    it('still shows the counters, and says why the rejections are missing', async () => {
      const { server: doomed, takeDown } = await backend.startDoomed({ admin: { token: ADMIN_TOKEN } });
      try {
        await postBatch(doomed, await doomed.token('u1'), { client_id: randomUUID(), batch: [{ op_id: 1, op: 'PUT', type: 'nope', id: 'r', data: {} }] });
        await takeDown();
        const response = await fetch(`${doomed.url}/dashboard`, { headers: auth });
        const text = await response.text();
        expect(response.status).toBe(200);
        expect(text).toContain('The rejections could not be read');
        expect(text).toContain('<td>unknown_table</td><td class="n">1</td>');
      } finally {
        await doomed.close();
      }
    });
  });

  describe('a Store without the admin capability', () => {
    it('answers 501 on /admin/* and still serves the dashboard and metrics', async () => {
      const config = configSchema.parse({ database: { url: server.databaseUrl }, auth: { jwt: { secret: TEST_SECRET } }, tables: { lists: {} }, admin: { token: ADMIN_TOKEN } });
      const opened = await openWritepath(config);
      const real = opened.store;
      // The same real store, minus the optional capabilities.
      const store: Store = {
        findTable: (name) => real.findTable(name),
        refreshSchema: () => real.refreshSchema(),
        transaction: (context, work) => real.transaction(context, work),
        ping: () => real.ping(),
        close: () => real.close(),
      };
      const app = buildApp({ ...opened, store });
      try {
        for (const path of ['/admin/rejections', '/admin/clients', '/admin/stats']) {
          const answer = await app.inject({ url: path, headers: auth });
          expect({ path, status: answer.statusCode, code: answer.json().error.code }).toEqual({ path, status: 501, code: 'not_implemented' });
        }
        const dashboard = await app.inject({ url: '/dashboard', headers: auth });
        expect(dashboard.statusCode).toBe(200);
        expect(dashboard.body).toContain('does not offer the admin queries');
        const metrics = await app.inject({ url: '/metrics', headers: auth });
        expect(metrics.body).toContain('writepath_batches_in_flight 0');
        expect(metrics.body).not.toContain('writepath_db_pool_connections');
      } finally {
        await app.close();
        await real.close();
      }
    });
  });
});
