import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeProblems, loadConfig, validateConfig, type LoadConfigResult } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'writepath-config-'));
let fileCount = 0;

function file(name: string, text: string): string {
  const path = join(dir, `${fileCount++}-${name}`);
  writeFileSync(path, text);
  return path;
}

function ok(result: LoadConfigResult) {
  if (!result.ok) throw new Error(describeProblems(result.problems));
  return result;
}

function problems(result: LoadConfigResult): string[] {
  if (result.ok) throw new Error('expected problems, got a valid config');
  return result.problems;
}

const AUTH = 'auth:\n  jwt:\n    secret: s3cret\n';

describe('loadConfig: files', () => {
  it('reads YAML with defaults filled in', () => {
    const path = file('c.yaml', `database:\n  url: postgres://localhost/app\n${AUTH}tables:\n  todos:\n  lists: {}\n`);
    const { config, source } = ok(loadConfig({ file: path }));
    expect(source).toBe(path);
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080, max_body_bytes: 16 * 1024 * 1024, max_batch_ops: 50_000 });
    expect(config.auth?.mode).toBe('jwt');
    expect(config.auth?.jwt?.user_claim).toBe('sub');
    // `todos:` is YAML null: an empty entry, with the table defaults.
    expect(config.tables.todos).toMatchObject({ id_column: 'id', put: 'merge', apply: 'fast' });
    expect(config.tables.lists).toMatchObject({ id_column: 'id' });
    expect(config.compat.demo_routes).toBe(false);
  });

  it('reads JSON', () => {
    const path = file('c.json', JSON.stringify({ server: { port: 9000 }, tables: { todos: { put: 'replace' } } }));
    const { config } = ok(loadConfig({ file: path }));
    expect(config.server.port).toBe(9000);
    expect(config.tables.todos?.put).toBe('replace');
  });

  it('treats an empty file as an empty configuration', () => {
    const { config } = ok(loadConfig({ file: file('empty.yaml', '') }));
    expect(config.tables).toEqual({});
    expect(config.server.port).toBe(8080);
  });

  it('reports a missing file and parse errors with their line, without throwing', () => {
    expect(problems(loadConfig({ file: join(dir, 'nope.yaml') }))[0]).toMatch(/nope\.yaml: cannot read .*no such file/);
    expect(problems(loadConfig({ file: file('bad.yaml', 'server:\n  port: 1\n  port: 2\n') }))[0]).toMatch(/invalid YAML: .*line 3/);
    expect(problems(loadConfig({ file: file('bad.json', '{\n  "server": {},\n}') }))[0]).toMatch(/invalid JSON: .*line 3/);
    expect(problems(loadConfig({ file: file('list.yaml', '- a\n') }))[0]).toMatch(/top level must be a mapping/);
  });

  it('lists every problem at once, naming unknown keys', () => {
    const path = file('bad.yaml', `${AUTH}server:\n  port: x\n  bogus: 1\ntables:\n  todos:\n    foo: 1\n    put: sideways\n`);
    const list = problems(loadConfig({ file: path, env: { WRITEPATH_TABLES__TODOS__BAR: 'x', WRITEPATH_NOPE: '1' } }));
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        'server.bogus: unknown key',
        'tables.todos.foo: unknown key',
        'tables.todos.bar: unknown key (from WRITEPATH_TABLES__TODOS__BAR)',
        'nope: unknown key (from WRITEPATH_NOPE)',
        expect.stringMatching(/^tables\.todos\.put: /),
      ]),
    );
    expect(list).toHaveLength(6);
  });
});

describe('loadConfig: environment', () => {
  it('sets nested keys, table keys included, over the file', () => {
    const path = file('c.yaml', `${AUTH}server:\n  port: 1234\ntables:\n  todos:\n`);
    const { config } = ok(
      loadConfig({
        file: path,
        env: {
          WRITEPATH_SERVER__PORT: '9000',
          WRITEPATH_AUTH__JWT__ISSUER: 'https://issuer.example',
          WRITEPATH_TABLES__TODOS__PUT: 'replace',
          WRITEPATH_TABLES__TODOS__COLUMNS: '["title","done"]',
          WRITEPATH_TABLES__TODO_ITEMS__OWNER_COLUMN: 'owner_id',
          WRITEPATH_COMPAT__DEMO_ROUTES: 'false',
          UNRELATED: 'ignored',
          WRITEPATH_PLAYGROUND_DIR: '/tmp/not-a-config-key',
        },
      }),
    );
    expect(config.server.port).toBe(9000);
    expect(config.auth?.jwt).toMatchObject({ secret: 's3cret', issuer: 'https://issuer.example' });
    expect(config.tables.todos).toMatchObject({ put: 'replace', columns: ['title', 'done'] });
    expect(config.tables.todo_items?.owner_column).toBe('owner_id');
    expect(config.compat.demo_routes).toBe(false);
  });

  it('works with no file at all', () => {
    const result = ok(loadConfig({ env: { WRITEPATH_AUTH__MODE: 'none', WRITEPATH_COMPAT__DEMO_ROUTES: 'true' } }));
    expect(result.source).toBe('environment');
    expect(result.config.auth?.mode).toBe('none');
    expect(result.config.compat.demo_routes).toBe(true);
  });

  it('keeps secrets that look like JSON as their text', () => {
    for (const secret of ['123', '0123', 'true', 'null', '1e3', '[1]']) {
      const { config } = ok(loadConfig({ env: { WRITEPATH_AUTH__JWT__SECRET: secret } }));
      expect(config.auth?.jwt?.secret).toBe(secret);
    }
  });

  it('reads DATABASE_URL and PORT, and lets the WRITEPATH_ forms win', () => {
    const env = { DATABASE_URL: 'postgres://a/db', PORT: '7000', WRITEPATH_AUTH__JWT__SECRET: 'x' };
    expect(ok(loadConfig({ env })).config).toMatchObject({ database: { url: 'postgres://a/db' }, server: { port: 7000 } });
    const both = { ...env, WRITEPATH_DATABASE__URL: 'postgres://b/db', WRITEPATH_SERVER__PORT: '7001' };
    expect(ok(loadConfig({ env: both })).config).toMatchObject({ database: { url: 'postgres://b/db' }, server: { port: 7001 } });
  });

  it('ignores empty variables and reports malformed names', () => {
    expect(ok(loadConfig({ env: { PORT: '', WRITEPATH_SERVER__HOST: '' } })).config.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(problems(loadConfig({ env: { WRITEPATH_SERVER____PORT: '1' } }))[0]).toMatch(/WRITEPATH_SERVER____PORT: not a key path/);
  });
});

describe('loadConfig: cross-field rules', () => {
  it('refuses a database without an auth section', () => {
    expect(problems(loadConfig({ env: { DATABASE_URL: 'postgres://h/db' } }))).toEqual([
      'no auth section: set auth.jwt.secret (or jwks_url, jwks, public_key), or auth.mode: none for local work only',
    ]);
  });

  it('refuses jwt mode without a key, accepts auth.mode: none', () => {
    const path = file('c.yaml', 'database:\n  url: postgres://h/db\nauth:\n  jwt:\n    issuer: me\n');
    expect(problems(loadConfig({ file: path }))[0]).toMatch(/^auth\.jwt: set one of secret, jwks_url/);
    const none = file('none.yaml', 'database:\n  url: postgres://h/db\nauth:\n  mode: none\n');
    expect(ok(loadConfig({ file: none })).config.auth?.mode).toBe('none');
  });

  it('accepts any one key source', () => {
    const base = { DATABASE_URL: 'postgres://h/db' };
    ok(loadConfig({ env: { ...base, WRITEPATH_AUTH__JWT__JWKS_URL: 'https://id.example/jwks.json' } }));
    ok(loadConfig({ env: { ...base, WRITEPATH_AUTH__JWT__JWKS: '{"keys":[]}' } }));
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    ok(loadConfig({ env: { ...base, WRITEPATH_AUTH__JWT__PUBLIC_KEY: pem } }));
    ok(loadConfig({ env: { ...base, WRITEPATH_AUTH__DEV_TOKENS__ENABLED: 'true' } }));
  });

  it('checks the keys themselves, listing every problem', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const privatePem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const privateJwk = ec.privateKey.export({ format: 'jwk' });
    const publicJwk = ec.publicKey.export({ format: 'jwk' });
    const env = {
      DATABASE_URL: 'postgres://h/db',
      WRITEPATH_AUTH__JWT__SECRET: publicPem,
      WRITEPATH_AUTH__JWT__PUBLIC_KEY: privatePem,
      WRITEPATH_AUTH__JWT__JWKS: JSON.stringify({ keys: [publicJwk, privateJwk, { kty: 'oct', k: 'c2VjcmV0' }, { kty: 'RSA', n: 'x' }] }),
      WRITEPATH_AUTH__DEV_TOKENS__PRIVATE_KEY: weak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    expect(problems(loadConfig({ env }))).toEqual([
      expect.stringMatching(/^auth\.jwt\.secret: holds a PEM or JSON Web Key/),
      expect.stringMatching(/^auth\.jwt\.public_key: is a private key/),
      expect.stringMatching(/^auth\.jwt\.jwks\.keys\.1: is a private key/),
      expect.stringMatching(/^auth\.jwt\.jwks\.keys\.2: symmetric keys do not belong/),
      expect.stringMatching(/^auth\.jwt\.jwks\.keys\.3: not a usable public JSON Web Key/),
      expect.stringMatching(/^auth\.dev_tokens\.private_key: an RSA key needs at least 2048 bits/),
    ]);
    expect(problems(loadConfig({ env: { WRITEPATH_AUTH__JWT__PUBLIC_KEY: 'not a key', WRITEPATH_AUTH__DEV_TOKENS__PRIVATE_KEY: 'nope' } }))).toEqual([
      expect.stringMatching(/^auth\.jwt\.public_key: not a PEM public key/),
      expect.stringMatching(/^auth\.dev_tokens\.private_key: not a PEM private key/),
    ]);
    expect(problems(loadConfig({ env: { WRITEPATH_AUTH__JWT__JWKS: '{"no_keys": true}' } }))[0]).toMatch(/^auth\.jwt\.jwks\.keys: /);
  });

  it('reads auth.dev_tokens, off by default', () => {
    expect(ok(loadConfig({ env: { WRITEPATH_AUTH__JWT__SECRET: 's' } })).config.auth?.dev_tokens).toEqual({ enabled: false });
    const env = { WRITEPATH_AUTH__DEV_TOKENS__ENABLED: 'true', WRITEPATH_AUTH__DEV_TOKENS__POWERSYNC_URL: 'http://localhost:8080' };
    expect(ok(loadConfig({ env })).config.auth?.dev_tokens).toEqual({ enabled: true, powersync_url: 'http://localhost:8080' });
    expect(problems(loadConfig({ env: { WRITEPATH_AUTH__DEV_TOKENS__BOGUS: '1' } }))).toEqual(['auth.dev_tokens.bogus: unknown key (from WRITEPATH_AUTH__DEV_TOKENS__BOGUS)']);
  });

  it('allows plain http JWKS URLs on loopback only', () => {
    for (const host of ['127.0.0.1:4000', 'localhost', '[::1]:9']) {
      ok(loadConfig({ env: { WRITEPATH_AUTH__JWT__JWKS_URL: `http://${host}/jwks.json` } }));
    }
    expect(problems(loadConfig({ env: { WRITEPATH_AUTH__JWT__JWKS_URL: 'http://id.example/jwks.json' } }))[0]).toMatch(
      /jwks_url: plain http:\/\/ is accepted for loopback hosts only/,
    );
  });

  it('checks owner.table and conflict.column', () => {
    const path = file(
      'c.yaml',
      [
        AUTH + 'tables:',
        '  lists: {}',
        '  todos:',
        '    owner: { through: list_id, table: list, column: owner_id }',
        '    conflict: { strategy: version }',
        '  items:',
        '    owner: { through: todo_id, table: todos, column: owner_id }',
        '    conflict: { strategy: previous_values }',
        '  notes:',
        '    owner: { through: parent_id, table: notes, column: owner_id }',
        '',
      ].join('\n'),
    );
    expect(problems(loadConfig({ file: path }))).toEqual([
      'tables.todos.owner.table: "list" is not an entry of tables (owner.table is the parent\'s name under tables)',
      'tables.todos.conflict.column: required with strategy version',
      'tables.notes.owner.table: must name another table, not notes itself',
    ]);
  });
});

describe('validateConfig', () => {
  it('validates an object with the same schema and rules as a file, filling defaults', () => {
    const input = { database: { url: 'postgres://localhost/app' }, auth: { jwt: { secret: 's3cret' } }, tables: { todos: {}, lists: null } };
    const { config, source } = ok(validateConfig(input));
    expect(source).toBe('object');
    expect(config.server.max_body_bytes).toBe(16 * 1024 * 1024);
    expect(config.tables.lists).toMatchObject({ id_column: 'id', put: 'merge' });
    // The caller's object is left as it was.
    expect(input).toEqual({ database: { url: 'postgres://localhost/app' }, auth: { jwt: { secret: 's3cret' } }, tables: { todos: {}, lists: null } });
  });

  it('lists every problem: unknown keys, bad values, cross-field rules', () => {
    const found = problems(
      validateConfig({ database: { url: 'postgres://x/y', pool: 3 }, server: { max_batch_ops: -1 }, tables: { todos: { conflict: { strategy: 'version' } } } }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'database.pool: unknown key',
        expect.stringMatching(/^server\.max_batch_ops: /),
        expect.stringMatching(/^no auth section/),
        'tables.todos.conflict.column: required with strategy version',
      ]),
    );
    expect(problems(validateConfig('database: x'))).toEqual(['(top level): the configuration must be an object of keys']);
  });
});

describe('describeProblems', () => {
  it('formats a short block', () => {
    expect(describeProblems(['a: b', 'c: d'])).toBe('writepath cannot start:\n  - a: b\n  - c: d');
  });
});
