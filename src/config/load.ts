import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { authKeyProblems } from './auth-problems.ts';
import { configSchema, type WritepathConfig } from './schema.ts';

/** What {@link loadConfig} returns: a valid configuration, or every problem found. */
export type LoadConfigResult =
  | { ok: true; config: WritepathConfig; source: string }
  | { ok: false; problems: string[] };

type Plain = Record<string, unknown>;

/** One environment variable mapped onto a key path. */
interface EnvSetting {
  name: string;
  path: string[];
  raw: string;
  value: unknown;
}

const PREFIX = 'WRITEPATH_';
/**
 * Variables with the WRITEPATH_ prefix that configure the process, not a config key
 * (the playground's data directory), so they are not reported as unknown keys.
 */
export const NON_CONFIG_VARIABLES: ReadonlySet<string> = new Set(['WRITEPATH_PLAYGROUND_DIR']);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Loads the configuration from a YAML/JSON file and the environment (PROTOCOL.md section 5),
 * validates it, and returns either the config or all problems at once, never throwing.
 *
 * Precedence: file < `DATABASE_URL`/`PORT` < `WRITEPATH_*` variables. Empty variables count
 * as unset (compose files often pass `VAR=` through).
 *
 * @example
 * const loaded = loadConfig({ file: 'writepath.yaml', env: process.env });
 * if (!loaded.ok) { console.error(describeProblems(loaded.problems)); process.exit(1); }
 */
export function loadConfig(options: { file?: string; env?: Record<string, string | undefined> }): LoadConfigResult {
  const problems: string[] = [];
  let input: Plain = {};
  if (options.file !== undefined) {
    const read = readConfigFile(options.file);
    if (!read.ok) return { ok: false, problems: [read.problem] };
    input = read.data;
  }

  const settings = readEnvironment(options.env ?? {}, problems);
  for (const s of settings) setPath(input, s.path, s.value);
  return validate(input, settings, options.file ?? 'environment', problems);
}

/**
 * Validates a configuration given as an object (library mode): the same schema and rules
 * as {@link loadConfig}, without a file or the environment. Never throws.
 *
 * @example
 * const checked = validateConfig({ database: { url }, auth: { jwt: { secret } }, tables: { todos: {} } });
 * if (!checked.ok) throw new Error(checked.problems.join('\n'));
 */
export function validateConfig(input: unknown): LoadConfigResult {
  if (!isPlain(input)) return { ok: false, problems: ['(top level): the configuration must be an object of keys'] };
  return validate(input, [], 'object', []);
}

function validate(input: Plain, settings: EnvSetting[], source: string, problems: string[]): LoadConfigResult {
  let result = configSchema.safeParse(input);
  // A value that looked like JSON (a secret `123`, `true`) where the schema wants a string:
  // the variable's own text is what was meant, so put it back and validate again.
  if (!result.success && restoreEnvStrings(input, settings, result.error.issues)) {
    result = configSchema.safeParse(input);
  }
  if (!result.success) problems.push(...result.error.issues.flatMap(issueLines).map((l) => annotate(l, settings)));
  problems.push(...crossFieldProblems(input));

  if (problems.length > 0 || !result.success) return { ok: false, problems };
  return { ok: true, config: result.data, source };
}

/**
 * Formats problems for the terminal.
 *
 * @example
 * describeProblems(['server.port: expected number']);
 * // "writepath cannot start:\n  - server.port: expected number"
 */
export function describeProblems(problems: string[]): string {
  return ['writepath cannot start:', ...problems.map((p) => `  - ${p}`)].join('\n');
}

function readConfigFile(file: string): { ok: true; data: Plain } | { ok: false; problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    return { ok: false, problem: `${file}: cannot read the configuration file (${why})` };
  }
  let data: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      data = JSON.parse(text);
    } catch (err) {
      return { ok: false, problem: `${file}: invalid JSON: ${jsonErrorWithLine((err as Error).message, text)}` };
    }
  } else {
    // YAML is a superset of JSON, so any other extension is read as YAML.
    const doc = YAML.parseDocument(text);
    const first = doc.errors[0];
    if (first) return { ok: false, problem: `${file}: invalid YAML: ${first.message.split('\n')[0]!.replace(/:$/, '')}` };
    data = doc.toJS();
  }
  if (data === null || data === undefined) return { ok: true, data: {} }; // an empty file
  if (!isPlain(data)) return { ok: false, problem: `${file}: the top level must be a mapping of keys` };
  return { ok: true, data };
}

/** JSON.parse reports an offset; people look for a line. */
function jsonErrorWithLine(message: string, text: string): string {
  const match = /position (\d+)/.exec(message);
  if (!match || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

/** Maps `WRITEPATH_A__B_C=…` to `a.b_c`, plus the bare `DATABASE_URL` and `PORT`. */
function readEnvironment(env: Record<string, string | undefined>, problems: string[]): EnvSetting[] {
  const settings: EnvSetting[] = [];
  const seen = new Set<string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || raw === undefined || raw === '' || NON_CONFIG_VARIABLES.has(name)) continue;
    const path = name.slice(PREFIX.length).toLowerCase().split('__');
    if (path.some((segment) => segment === '')) {
      problems.push(`${name}: not a key path (use __ between levels, e.g. WRITEPATH_AUTH__JWT__SECRET)`);
      continue;
    }
    settings.push({ name, path, raw, value: parseEnvValue(raw) });
    seen.add(path.join('.'));
  }
  const bare: Array<[string, string[]]> = [['DATABASE_URL', ['database', 'url']], ['PORT', ['server', 'port']]];
  for (const [name, path] of bare) {
    const raw = env[name];
    if (raw === undefined || raw === '' || seen.has(path.join('.'))) continue;
    settings.push({ name, path, raw, value: parseEnvValue(raw) });
  }
  // Shallow keys first, so WRITEPATH_TABLES__TODOS__PUT refines a WRITEPATH_TABLES={…}.
  return settings.sort((a, b) => a.path.length - b.path.length);
}

/** Numbers, booleans, null, objects and arrays are JSON; anything else is its own text. */
function parseEnvValue(raw: string): unknown {
  const text = raw.trim();
  if (!/^(-?\d|true$|false$|null$|\{|\[|")/.test(text)) return raw;
  try {
    return JSON.parse(text);
  } catch {
    return raw;
  }
}

function restoreEnvStrings(input: Plain, settings: EnvSetting[], issues: z.core.$ZodIssue[]): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || issue.expected !== 'string') continue;
    const key = issue.path.join('.');
    const setting = settings.find((s) => s.path.join('.') === key && typeof s.value !== 'string');
    if (!setting) continue;
    setPath(input, setting.path, setting.raw);
    changed = true;
  }
  return changed;
}

/** One line per problem; an unrecognized-keys issue names each key on its own line. */
function issueLines(issue: z.core.$ZodIssue): string[] {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${[...at, k].join('.')}: unknown key`);
  return [`${at.length > 0 ? at.join('.') : '(top level)'}: ${issue.message}`];
}

/** Points a problem at the environment variable that caused it, if one did. */
function annotate(line: string, settings: EnvSetting[]): string {
  const path = line.slice(0, line.indexOf(':'));
  const from = [...settings].reverse().find((s) => {
    const key = s.path.join('.');
    return path === key || path.startsWith(`${key}.`);
  });
  return from ? `${line} (from ${from.name})` : line;
}

/** Rules zod's per-field schema cannot express; read from the raw input so they run even when fields are invalid. */
function crossFieldProblems(input: Plain): string[] {
  const problems: string[] = [];
  const auth = input.auth;
  const hasDatabase = isNonEmptyString(get(input, 'database', 'url'));
  if (hasDatabase && (auth === undefined || auth === null)) {
    problems.push('no auth section: set auth.jwt.secret (or jwks_url, jwks, public_key), or auth.mode: none for local work only');
  } else if (hasDatabase && (get(auth, 'mode') ?? 'jwt') === 'jwt') {
    const keys = ['secret', 'jwks_url', 'jwks', 'public_key'].filter((k) => {
      const v = get(auth, 'jwt', k);
      return v !== undefined && v !== null && v !== '';
    });
    // The dev key verifies the tokens it signs, so it is enough on its own for local work.
    if (keys.length === 0 && get(auth, 'dev_tokens', 'enabled') !== true) {
      problems.push('auth.jwt: set one of secret, jwks_url, jwks, public_key to verify tokens (or auth.mode: none for local work only)');
    }
  }
  const jwksUrl = get(auth, 'jwt', 'jwks_url');
  if (isNonEmptyString(jwksUrl)) problems.push(...jwksUrlProblems(jwksUrl));
  problems.push(...authKeyProblems(auth));

  const tables = input.tables;
  if (isPlain(tables)) {
    for (const [name, table] of Object.entries(tables)) problems.push(...tableProblems(name, table, tables));
  }
  return problems;
}

function jwksUrlProblems(text: string): string[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return []; // the schema already reports a malformed URL
  }
  if (url.protocol === 'https:') return [];
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return [];
  if (url.protocol === 'http:') {
    // Keys fetched over plain HTTP can be swapped in transit, and then any token verifies.
    return [`auth.jwt.jwks_url: plain http:// is accepted for loopback hosts only (127.0.0.1, localhost, ::1); use https://`];
  }
  return [`auth.jwt.jwks_url: must be an https:// URL`];
}

function tableProblems(name: string, table: unknown, tables: Plain): string[] {
  const problems: string[] = [];
  const owner = get(table, 'owner');
  const ownerTable = get(owner, 'table');
  if (isNonEmptyString(ownerTable)) {
    if (ownerTable === name) {
      // A row owned through a row of its own table needs an owned root, which it can never get.
      problems.push(`tables.${name}.owner.table: must name another table, not ${name} itself`);
    } else if (!Object.hasOwn(tables, ownerTable)) {
      problems.push(`tables.${name}.owner.table: "${ownerTable}" is not an entry of tables (owner.table is the parent's name under tables)`);
    }
  }
  if (owner !== undefined && owner !== null && get(table, 'owner_column') !== undefined) {
    problems.push(`tables.${name}: set owner_column or owner, not both`);
  }
  const strategy = get(table, 'conflict', 'strategy');
  // last_write_wins needs nothing, field_timestamps reads metadata, previous_values reads `old`:
  // only version and timestamp compare against a column.
  if ((strategy === 'version' || strategy === 'timestamp') && !isNonEmptyString(get(table, 'conflict', 'column'))) {
    problems.push(`tables.${name}.conflict.column: required with strategy ${strategy}`);
  }
  return problems;
}

function setPath(root: Plain, path: string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isPlain(next)) {
      node = next;
    } else {
      // Replaces a YAML null (`todos:`) or a scalar with an object the variable can fill.
      const created: Plain = {};
      node[key] = created;
      node = created;
    }
  }
  node[path[path.length - 1]!] = value;
}

function get(value: unknown, ...path: string[]): unknown {
  let node = value;
  for (const key of path) {
    if (!isPlain(node)) return undefined;
    node = node[key];
  }
  return node;
}

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
