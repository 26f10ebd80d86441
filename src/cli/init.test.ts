import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createTestDatabase, sql } from '../../test/support/pg.ts';
import { loadConfig } from '../config/load.ts';
import { buildConfigYaml, runInit, type IntrospectedTable } from './init.ts';

const col = (name: string, writable = true) => ({ name, writable });

describe('buildConfigYaml', () => {
  const tables: IntrospectedTable[] = [
    { schema: 'public', name: 'todos', columns: [col('id'), col('title'), col('search', false), col('done')], primaryKey: ['id'] },
    { schema: 'public', name: 'people', columns: [col('person_id'), col('name')], primaryKey: ['person_id'] },
    { schema: 'app', name: 'notes', columns: [col('id'), col('body')], primaryKey: ['id'] },
    { schema: 'app', name: 'todos', columns: [col('id'), col('x')], primaryKey: ['id'] },
    { schema: 'public', name: 'events', columns: [col('at'), col('what')], primaryKey: [] },
    { schema: 'public', name: 'memberships', columns: [col('user_id'), col('list_id')], primaryKey: ['user_id', 'list_id'] },
  ];
  const text = buildConfigYaml({ databaseUrl: 'postgres://u:p@h/db', secret: 'dev-secret', tables });
  const parsed = YAML.parse(text);

  it('writes database, server, auth and one entry per addressable table', () => {
    expect(parsed.database.url).toBe('postgres://u:p@h/db');
    expect(parsed.server).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parsed.auth.jwt.secret).toBe('dev-secret');
    expect(text).toMatch(/# .*replace it .*jwks_url/s);
    expect(parsed.tables).toEqual({
      todos: { columns: ['title', 'done'] },
      people: { id_column: 'person_id', columns: ['name'] },
      notes: { table: 'app.notes', columns: ['body'] },
      app_todos: { table: 'app.todos', columns: ['x'] },
    });
  });

  it('comments out tables without a single-column primary key, saying why', () => {
    expect(text).toContain('# public.events: no primary key');
    expect(text).toContain('# public.memberships: composite primary key (user_id, list_id)');
    expect(text).toMatch(/^ {2}# memberships:\n {2}# {3}columns:\n {2}# {5}- user_id\n {2}# {5}- list_id$/m);
    // Uncommented, the entry is valid YAML under tables (the user then adds id_column).
    const block = text.slice(text.indexOf('  # memberships:')).replace(/^ {2}# /gm, '  ');
    expect(YAML.parse(`tables:\n${block}`).tables.memberships).toEqual({ columns: ['user_id', 'list_id'] });
  });

  it('writes a valid config even when no table is usable', () => {
    const only = buildConfigYaml({ databaseUrl: 'postgres://h/db', secret: 's', tables: tables.slice(4) });
    expect(YAML.parse(only).tables).toEqual({});
  });
});

describe('runInit against Postgres', () => {
  it('introspects the tables and writes a config loadConfig accepts', async () => {
    const url = await createTestDatabase('wp_init');
    await sql(
      url,
      `CREATE TABLE lists (id text PRIMARY KEY, name text NOT NULL, owner_id text);
       CREATE TABLE todos (
         id text PRIMARY KEY, list_id text REFERENCES lists(id), description text, completed boolean,
         n int GENERATED ALWAYS AS IDENTITY, upper_description text GENERATED ALWAYS AS (upper(description)) STORED);
       CREATE TABLE tags (tag_key text PRIMARY KEY, label text);
       CREATE TABLE links (a text, b text, PRIMARY KEY (a, b));
       ALTER TABLE todos DROP COLUMN completed; ALTER TABLE todos ADD COLUMN completed boolean;
       CREATE VIEW open_todos AS SELECT * FROM todos;`,
    );
    const dir = await mkdtemp(join(tmpdir(), 'writepath-init-'));
    const out = join(dir, 'writepath.yaml');
    const logs: string[] = [];
    const { path } = await runInit({ databaseUrl: url, out, log: (l) => logs.push(l) });
    expect(path).toBe(out);
    expect(logs.join('\n')).toMatch(/Wrote .*writepath\.yaml[\s\S]*writepath serve --config/);
    expect((await stat(out)).mode & 0o777).toBe(0o600);

    const loaded = loadConfig({ file: out, env: {} });
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    expect(loaded.config.database.url).toBe(url);
    expect(loaded.config.auth?.jwt?.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(loaded.config.tables).sort()).toEqual(['lists', 'tags', 'todos']);
    expect(loaded.config.tables.lists?.columns).toEqual(['name', 'owner_id']);
    expect(loaded.config.tables.todos?.columns).toEqual(['list_id', 'description', 'completed']);
    expect(loaded.config.tables.tags).toMatchObject({ id_column: 'tag_key', columns: ['label'] });
    expect(await readFile(out, 'utf8')).toContain('# public.links: composite primary key (a, b)');
  });

  it('never overwrites a file without force', async () => {
    const url = await createTestDatabase('wp_init');
    const out = join(await mkdtemp(join(tmpdir(), 'writepath-init-')), 'writepath.yaml');
    await writeFile(out, 'keep me\n');
    await expect(runInit({ databaseUrl: url, out, log: () => {} })).rejects.toThrow(/already exists; use --force/);
    expect(await readFile(out, 'utf8')).toBe('keep me\n');
    await runInit({ databaseUrl: url, out, force: true, log: () => {} });
    expect(await readFile(out, 'utf8')).toContain('tables: {}');
  });
});
