import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { createMongoTestDatabase, withMongo } from './support/mongo.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { signTestToken } from './support/server.ts';

const bin = fileURLToPath(new URL('../bin/writepath.js', import.meta.url));
const cleanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'writepath-serve-'));
  // Postgres runs as another user when the tests run as root: it must be able to enter.
  await chmod(dir, 0o755);
  db = await createTestDatabase();
  await sql(db, exampleSchemaSql);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function serveOnce(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, 'serve', ...args], { encoding: 'utf8', env: { ...cleanEnv, ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `writepath serve` and resolves once it prints the address it listens on. */
function serveInBackground(args: string[], env: Record<string, string> = {}, waitFor = 'Server listening'): Promise<{ child: ChildProcess; url: string; output: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Listened for from the start: the process may end before a test gets to wait for it.
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match && output.includes(waitFor)) resolve({ child, url: match[1]!, output: () => output, exit });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

describe('writepath serve', () => {
  it('stops a configuration with a database but no auth, and unknown keys, listing every problem', async () => {
    const path = await configFile('bad.yaml', `database:\n  url: ${db}\nserver:\n  colour: blue\ntables:\n  todos:\n    owner_colum: x\n`);
    const { code, stderr } = serveOnce(['--config', path]);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot start');
    expect(stderr).toMatch(/server\.colour/);
    expect(stderr).toMatch(/tables\.todos\.owner_colum/);
    expect(stderr).toMatch(/auth/);
    expect(stderr).not.toMatch(/\s+at /);
  });

  it('stops when configured tables or columns are missing in the database, listing every one', async () => {
    const path = await configFile(
      'missing.yaml',
      `database:\n  url: ${db}\nauth:\n  jwt:\n    secret: s\ntables:\n  lists: {}\n  notes: {}\n  todos:\n    columns: [description, colour]\n`,
    );
    const { code, stderr } = serveOnce(['--config', path]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/tables\.notes: table notes does not exist/);
    expect(stderr).toMatch(/tables\.todos\.columns: colour does not exist/);
    expect(stderr).not.toMatch(/\s+at /);
  });

  it('serves a mongodb:// URL: writes documents, answers /ready, and stops on SIGTERM', async () => {
    const mongoUrl = createMongoTestDatabase('serve');
    const env = { DATABASE_URL: mongoUrl, WRITEPATH_AUTH__JWT__SECRET: 'serve-secret-of-at-least-32-characters', WRITEPATH_SERVER__PORT: '0', WRITEPATH_TABLES__NOTES: '{"types": {"n": "int"}}' };
    const { child, url, exit } = await serveInBackground([], env);
    try {
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const token = await signTestToken('u1', env.WRITEPATH_AUTH__JWT__SECRET);
      const response = await fetch(`${url}/api/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_id: 'c-mongo', batch: [{ op_id: 1, op: 'PUT', type: 'notes', id: 'n1', data: { n: '42' } }] }),
      });
      expect(await response.json()).toMatchObject({ applied: 1, last_op_id: 1 });
      expect(await withMongo(mongoUrl, (m) => m.collection('notes').findOne({}))).toEqual({ _id: 'n1', n: 42 });
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('warns at every start under auth.mode: none, serves, and on SIGTERM finishes the batch in flight', async () => {
    await sql(db, `CREATE OR REPLACE FUNCTION slow_down() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$ LANGUAGE plpgsql;
                   DROP TRIGGER IF EXISTS slow ON lists; CREATE TRIGGER slow BEFORE INSERT ON lists FOR EACH ROW EXECUTE FUNCTION slow_down();`);
    const { child, url, output, exit } = await serveInBackground([], { DATABASE_URL: db, WRITEPATH_AUTH__MODE: 'none', WRITEPATH_SERVER__PORT: '0', WRITEPATH_TABLES__LISTS: '{}' });
    try {
      expect(output()).toMatch(/WARNING auth\.mode is none/);
      const id = '6f1c1f5e-0000-4000-8000-000000000001';
      const inFlight = fetch(`${url}/api/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'c-sigterm', batch: [{ op_id: 1, op: 'PUT', type: 'lists', id, data: { name: 'slow' } }] }),
      });
      await new Promise((r) => setTimeout(r, 150));
      child.kill('SIGTERM');
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await exit).toBe(0);
      expect(await sql(db, 'SELECT name FROM lists WHERE id = $1', [id])).toEqual([{ name: 'slow' }]);
      expect(await sql(db, "SELECT user_id, last_op_id::int FROM writepath_ledger WHERE client_id = 'c-sigterm'")).toEqual([{ user_id: 'anonymous', last_op_id: 1 }]);
    } finally {
      child.kill('SIGKILL');
      await sql(db, 'DROP TRIGGER IF EXISTS slow ON lists');
    }
  });

  it('with no configuration at all, serves the playground and its printed curl line writes a row', async () => {
    const playgroundDir = join(dir, 'playground');
    const { child, url, output, exit } = await serveInBackground([], { WRITEPATH_PLAYGROUND_DIR: playgroundDir, PORT: '0' }, 'then look:');
    try {
      const text = output();
      const curl = /curl -s (\S+) -H 'Content-Type: application\/json' -H 'Authorization: Bearer (\S+)' -d '(.+)'/.exec(text);
      expect(curl, text).not.toBeNull();
      const [, endpoint, token, body] = curl!;
      expect(endpoint).toBe(`${url}/api/data`);
      const response = await fetch(endpoint!, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      expect(await response.json()).toMatchObject({ applied: 1, rejected: [] });
      // The token is signed with this run's secret only.
      const forged = await signTestToken('playground-user');
      expect((await fetch(endpoint!, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` }, body })).status).toBe(401);

      const databaseUrl = /psql (\S+) -c/.exec(text)![1]!;
      const listId = JSON.parse(body!).batch[0].id;
      expect(await sql(databaseUrl, 'SELECT name, owner_id FROM lists WHERE id = $1', [listId])).toEqual([{ name: 'groceries', owner_id: 'playground-user' }]);
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('warns at every start with auth.dev_tokens enabled, naming the default user, and serves its tokens', async () => {
    const env = { DATABASE_URL: db, WRITEPATH_AUTH__DEV_TOKENS__ENABLED: 'true', WRITEPATH_AUTH__DEV_TOKENS__USER_ID: 'dev-1', WRITEPATH_SERVER__PORT: '0', WRITEPATH_TABLES__LISTS: '{}' };
    const { child, url, output, exit } = await serveInBackground([], env);
    try {
      expect(output()).toMatch(/WARNING auth\.dev_tokens is enabled: .*default user "dev-1"/);
      const { token, user_id } = (await (await fetch(`${url}/api/auth/token`)).json()) as { token: string; user_id: string };
      expect(user_id).toBe('dev-1');
      const body = JSON.stringify({ client_id: 'c-dev', batch: [{ op_id: 1, op: 'PUT', type: 'lists', id: '6f1c1f5e-0000-4000-8000-00000000000d', data: { name: 'dev' } }] });
      const response = await fetch(`${url}/api/data`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      expect(response.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(output()).not.toContain(token);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
