import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';

/** A table as `writepath init` sees it in the database. */
export interface IntrospectedTable {
  schema: string;
  name: string;
  /** In table order; `writable` is false for generated and GENERATED ALWAYS identity columns. */
  columns: Array<{ name: string; writable: boolean }>;
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[];
}

// One round trip: every ordinary or partitioned table outside the system schemas, with its
// columns and primary key. Extension-owned tables (PostGIS's spatial_ref_sys...) and
// writepath's own tables are not the app's data.
const INTROSPECT = `
SELECT n.nspname AS schema, c.relname AS name,
  (SELECT json_agg(json_build_object(
            'name', a.attname,
            'writable', a.attgenerated = '' AND a.attidentity <> 'a') ORDER BY a.attnum)
     FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(a.attname ORDER BY k.ord)
     FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND c.relname NOT LIKE 'writepath\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname = 'public' DESC, n.nspname, c.relname`;

/**
 * Reads the app's tables, their columns and primary keys from a Postgres database.
 *
 * @example
 * const tables = await introspectTables('postgres://localhost/app');
 */
export async function introspectTables(databaseUrl: string): Promise<IntrospectedTable[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to ${redact(databaseUrl)}: ${(err as Error).message}`);
  }
  try {
    const { rows } = await client.query(INTROSPECT);
    return rows.map((r) => ({
      schema: r.schema as string,
      name: r.name as string,
      columns: (r.columns ?? []) as IntrospectedTable['columns'],
      primaryKey: (r.primary_key ?? []) as string[],
    }));
  } finally {
    await client.end();
  }
}

/**
 * Builds the starter configuration text (pure, so it can be tested without a database).
 * Tables without a single-column primary key are written commented out, with the reason.
 *
 * @example
 * buildConfigYaml({ databaseUrl: 'postgres://localhost/app', secret: 'x', tables });
 */
export function buildConfigYaml(input: { databaseUrl: string; secret: string; tables: IntrospectedTable[] }): string {
  const lines = [
    '# writepath configuration, written by `writepath init`.',
    '# Every key can also be set from the environment: WRITEPATH_ + key path, __ between levels.',
    '',
    'database:',
    '  # Or leave this out and set DATABASE_URL, to keep the password out of this file.',
    `  url: ${scalar(input.databaseUrl)}`,
    '',
    'server:',
    '  host: 127.0.0.1',
    '  port: 8080',
    '  # max_body_bytes: 16777216',
    '  # max_batch_ops: 50000',
    '',
    'auth:',
    '  jwt:',
    '    # A random development secret. In production replace it with your auth provider\'s',
    '    # keys (jwks_url: https://…/.well-known/jwks.json) or a secret kept out of this file',
    '    # (WRITEPATH_AUTH__JWT__SECRET).',
    `    secret: ${scalar(input.secret)}`,
    '',
  ];
  const entries = tableEntries(input.tables);
  const active = entries.some((e) => !e.commented);
  lines.push(active ? 'tables:' : 'tables: {}');
  if (input.tables.length === 0) lines.push('  # No tables found; add one entry per table the clients write.');
  for (const entry of entries) lines.push(...entry.lines);
  return `${lines.join('\n')}\n`;
}

function tableEntries(tables: IntrospectedTable[]): Array<{ commented: boolean; lines: string[] }> {
  const used = new Set<string>();
  return tables.map((t) => {
    // Clients name tables without a schema; a name seen in two schemas gets the schema prefix.
    let key = t.name;
    if (used.has(key)) key = `${t.schema}_${t.name}`;
    used.add(key);
    const body: string[] = [];
    if (t.schema !== 'public') body.push(`table: ${scalar(`${t.schema}.${t.name}`)}`);
    // Only a single-column key addresses a row; for the others (written commented out) the
    // user picks the id column, so every writable column is listed.
    const idColumn = t.primaryKey.length === 1 ? t.primaryKey[0]! : undefined;
    if (idColumn !== undefined && idColumn !== 'id') body.push(`id_column: ${scalar(idColumn)}`);
    const columns = t.columns.filter((c) => c.writable && c.name !== idColumn).map((c) => c.name);
    body.push(columns.length > 0 ? 'columns:' : 'columns: []', ...columns.map((c) => `  - ${scalar(c)}`));

    const entry = [`${scalar(key)}:`, ...body.map((l) => `  ${l}`)].map((l) => `  ${l}`);
    const reason = t.primaryKey.length === 0
      ? 'no primary key'
      : t.primaryKey.length > 1 ? `composite primary key (${t.primaryKey.join(', ')})` : undefined;
    if (reason === undefined) return { commented: false, lines: entry };
    // PowerSync rows have one text id, so writepath needs a single key column to address them.
    return {
      commented: true,
      lines: [`  # ${t.schema}.${t.name}: ${reason}; writepath needs a single-column primary key.`, ...entry.map((l) => `  # ${l.slice(2)}`)],
    };
  });
}

/** A YAML scalar, quoted only when needed. */
function scalar(value: string): string {
  return YAML.stringify(value, { lineWidth: 0 }).trimEnd();
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the database';
  }
}

/**
 * `writepath init`: introspects the database and writes a starter configuration to `out`.
 * Refuses to overwrite an existing file unless `force`. Throws an Error meant for the terminal.
 *
 * @example
 * await runInit({ databaseUrl: 'postgres://localhost/app', out: 'writepath.yaml' });
 */
export async function runInit(options: {
  databaseUrl: string;
  out: string;
  force?: boolean;
  log?: (line: string) => void;
}): Promise<{ path: string; tables: IntrospectedTable[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const path = resolve(options.out);
  const tables = await introspectTables(options.databaseUrl);
  const text = buildConfigYaml({ databaseUrl: options.databaseUrl, secret: randomBytes(32).toString('base64url'), tables });
  try {
    // 'wx' checks and creates in one step; 0600 because the file holds a secret and a password.
    await writeFile(path, text, { flag: options.force ? 'w' : 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${options.out} already exists; use --force to overwrite it`);
    throw new Error(`cannot write ${options.out}: ${(err as Error).message}`);
  }
  const skipped = tables.filter((t) => t.primaryKey.length !== 1).length;
  log(`Wrote ${path} (${tables.length - skipped} tables${skipped ? `, ${skipped} commented out` : ''}).`);
  log(`Next: npx writepath serve --config ${options.out}`);
  log(`Then: npx writepath token --sub <user-id> --config ${options.out}`);
  return { path, tables };
}
