import type { RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { serverError, unavailable } from './errors.ts';
import type { EntryProblem, Operation } from './operation.ts';
import type { Store } from './store.ts';
import { validateEntry, type EntryCheck } from './validate-entry.ts';

export type ResolvedEntry = { kind: 'ok'; operation: Operation } | { kind: 'rejected'; entry: RawEntry; problem: EntryProblem };

/**
 * Validates every entry; when the live schema as last read lacks a table or column, reads
 * the schema again once and decides with the fresh one: a column still missing is rejected
 * as unknown (or held with 503 under `on_unknown_column: hold`); a configured table or
 * column still missing is the server's own problem, never the client's (500).
 */
export async function resolveEntries(entries: RawEntry[], rules: TableRules, store: Store): Promise<Map<RawEntry, ResolvedEntry>> {
  // Tables looked up once per pass, not once per entry.
  const pass = () => {
    const tables = new Map<string, ReturnType<Store['findTable']>>();
    const find = (name: string) => {
      if (!tables.has(name)) tables.set(name, store.findTable(name));
      return tables.get(name);
    };
    return entries.map((e) => validateEntry(e, rules, find));
  };
  let checks = pass();
  if (checks.some((c) => c.kind === 'schema_miss')) {
    await store.refreshSchema();
    checks = pass();
  }
  const resolved = new Map<RawEntry, ResolvedEntry>();
  entries.forEach((entry, index) => resolved.set(entry, settle(entry, checks[index]!)));
  return resolved;
}

function settle(entry: RawEntry, check: EntryCheck): ResolvedEntry {
  if (check.kind === 'ok') return check;
  if (check.kind === 'rejected') return { kind: 'rejected', entry, problem: check.problem };
  if (check.column === undefined) {
    throw serverError('table_missing', `the configured table ${check.table} does not exist in the database`);
  }
  if (check.configured) {
    throw serverError('column_missing', `the configured column ${check.table}.${check.column} does not exist in the database`);
  }
  if (check.hold) {
    throw unavailable('column_held', `${check.table}.${check.column} does not exist yet; held until the database has it (on_unknown_column: hold)`, undefined, 30);
  }
  return {
    kind: 'rejected',
    entry,
    problem: { code: 'unknown_column', column: check.column, message: `${String(entry.fields.type)}.${check.column}: no such column` },
  };
}
