import type { ClientSession, Collection, Document } from 'mongodb';
import { mergeFieldTimes } from '../core/field-times.ts';
import type { EntryProblem, Operation } from '../core/operation.ts';
import { isObject } from '../protocol/wire.ts';
import type { ConflictStrategy } from '../rules/table-rules.ts';
import { toClientValue, toText } from './bson-values.ts';
import { typeOf, type MongoTableInfo } from './mongo-tables.ts';
import { convertDeclared } from './value-codecs.ts';
import { idOf, writeModel } from './write-models.ts';

/** The strategies this Store checks (all of PROTOCOL.md's); any other would stop the start (see mongo-config.ts). */
export const MONGO_CONFLICT_STRATEGIES: ReadonlySet<ConflictStrategy> = new Set(['last_write_wins', 'version', 'timestamp', 'previous_values', 'field_timestamps']);

/**
 * Applies one operation of a table with a conflict strategy (PROTOCOL.md section 6): reads
 * the stored document in the transaction, decides, then writes. A concurrent batch that
 * writes the same document makes one of the two transactions fail with a write conflict
 * (retried, else 503), so what was read still holds at the commit.
 */
export async function applyGuarded(collection: Collection<Document>, session: ClientSession, operation: Operation, table: MongoTableInfo): Promise<EntryProblem | undefined> {
  const { strategy, column } = operation.rule.conflict;
  const stored = await collection.findOne({ _id: idOf(operation, table) } as Document, { session });
  if (stored && loses(operation, table, stored)) {
    const what = strategy === 'previous_values' ? 'a field it changes no longer holds the value the client saw' : `the stored ${column} is newer than the write's`;
    return {
      code: 'conflict',
      message: `${operation.rule.clientName} ${operation.id}: ${operation.op} lost the ${strategy} check: ${what}`,
      current: clientRepresentation(stored, table),
    };
  }
  const model = guardedModel(operation, table, stored);
  if (model) await collection.bulkWrite([model], { session });
  return undefined;
}

function guardedModel(operation: Operation, table: MongoTableInfo, stored: Document | null) {
  const { strategy, column } = operation.rule.conflict;
  // The server keeps the counter: whatever the client sent for it, the write bumps it by one.
  if (strategy === 'version') return writeModel(operation, table, { except: column!, extra: { $inc: { [column!]: 1 } } });
  if (strategy !== 'field_timestamps' || operation.op === 'DELETE') return writeModel(operation, table);
  // Per field, the later time wins; the times are kept as an embedded document.
  const storedTimes = stored?.[column!];
  const { winners, times } = mergeFieldTimes(operation.values, column!, operation.metadata, isObject(storedTimes) ? (storedTimes as Record<string, string>) : {});
  return writeModel({ ...operation, values: winners }, table, { except: column!, set: { [column!]: times } });
}

function loses(operation: Operation, table: MongoTableInfo, stored: Document): boolean {
  const { strategy, column } = operation.rule.conflict;
  const given = (pairs: Operation['values'], c: string) => pairs.find(([name]) => name === c)?.[1] ?? null;
  const storedText = (c: string) => toText(typeOf(table, c), stored[c]);
  switch (strategy) {
    case 'version': {
      // The version the write is based on; a write that carries none does not lose.
      const base = given(operation.old, column!) ?? given(operation.values, column!);
      return base !== null && storedText(column!) !== base;
    }
    case 'timestamp': {
      const time = operation.op === 'DELETE' ? given(operation.old, column!) : given(operation.values, column!);
      const storedTime = storedText(column!);
      if (time === null || storedTime === null) return false;
      return instant(storedTime) > instant(time);
    }
    case 'previous_values': {
      const changed = new Set((operation.op === 'DELETE' ? operation.old : operation.values).map(([c]) => c));
      return operation.old.some(([c, seen]) => changed.has(c) && storedText(c) !== seen);
    }
    default:
      return false;
  }
}

/** A time in either accepted form, as milliseconds; text that is no time compares as the earliest. */
function instant(text: string): number {
  // An undeclared field's text is JSON: a quoted time.
  const unquoted = text.startsWith('"') ? (JSON.parse(text) as unknown) : text;
  const converted = convertDeclared('date', unquoted);
  return converted.ok && converted.value !== null ? Date.parse(converted.value) : Number.NEGATIVE_INFINITY;
}

/** A stored document as a PowerSync client holds the row: `_id` as `id`, booleans 0/1, JSON as text. */
export function clientRepresentation(document: Document, table: MongoTableInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(document)) {
    const field = name === '_id' ? table.idColumn : name;
    out[name === '_id' ? 'id' : name] = toClientValue(table.types.get(field), value);
  }
  return out;
}
