import type { AnyBulkWriteOperation, Document } from 'mongodb';
import type { Operation } from '../core/operation.ts';
import { isObject } from '../protocol/wire.ts';
import { toBson } from './bson-values.ts';
import { typeOf, type MongoTableInfo } from './mongo-tables.ts';

/** The stored form of the row id. */
export function idOf(operation: Pick<Operation, 'id'>, table: MongoTableInfo): unknown {
  return toBson(typeOf(table, table.idColumn), operation.id);
}

/** The fields an operation sets, as BSON, leaving out `except` (a column the server keeps). */
function carriedFields(operation: Operation, table: MongoTableInfo, except?: string): Document {
  const fields: Document = {};
  const data = operation.entry.fields.data;
  for (const [column, value] of operation.values) {
    if (column === except) continue;
    const type = typeOf(table, column);
    // An undeclared field keeps the client's own value (its text would lose number from text).
    fields[column] = type === 'any' && isObject(data) && column in data ? data[column] : toBson(type, value);
  }
  return fields;
}

/**
 * Fields a `put: replace` PUT sets to null because it does not carry them: the writable
 * declared fields. A collection without declared fields is replaced whole instead.
 */
function absentWritable(operation: Operation, table: MongoTableInfo, except?: string): Document {
  const absent: Document = {};
  const carried = new Set(operation.values.map(([c]) => c));
  for (const field of table.types.keys()) {
    if (field === table.idColumn || field === except || carried.has(field)) continue;
    if (operation.rule.columns && !operation.rule.columns.has(field)) continue;
    absent[field] = null;
  }
  return absent;
}

/**
 * The one write of an operation, as a bulkWrite model, or undefined when it changes
 * nothing (a PATCH without fields). PUT upserts; PATCH and DELETE of a missing document
 * match nothing, which is the no-op the protocol asks for. `except` is a field the server
 * keeps itself (a version counter, field times), `extra` further update operators and `set`
 * fields the server sets besides the operation's.
 */
export function writeModel(
  operation: Operation,
  table: MongoTableInfo,
  options: { except?: string; extra?: Document; set?: Document } = {},
): AnyBulkWriteOperation | undefined {
  const filter: Document = { _id: idOf(operation, table) };
  const { except, extra = {}, set: serverSet } = options;
  switch (operation.op) {
    case 'DELETE': {
      const soft = operation.rule.softDelete;
      if (!soft) return { deleteOne: { filter } };
      // A boolean marks with true, anything else with the time of the delete.
      const mark = table.types.get(soft) === 'bool' ? true : new Date();
      return { updateOne: { filter, update: { $set: { [soft]: mark }, ...extra } } };
    }
    case 'PATCH': {
      const fields = { ...carriedFields(operation, table, except), ...serverSet };
      if (Object.keys(fields).length === 0 && Object.keys(extra).length === 0) return undefined;
      return { updateOne: { filter, update: withSet(fields, extra) } };
    }
    case 'PUT': {
      const fields = { ...carriedFields(operation, table, except), ...serverSet };
      if (operation.rule.put === 'replace' && !table.declared) {
        return { replaceOne: { filter, replacement: fields, upsert: true } };
      }
      const set = operation.rule.put === 'replace' ? { ...absentWritable(operation, table, except), ...fields } : fields;
      // An empty PUT still creates the document; $setOnInsert of the id it already has says so.
      const update = Object.keys(set).length > 0 || Object.keys(extra).length > 0 ? withSet(set, extra) : { $setOnInsert: { _id: filter._id } };
      return { updateOne: { filter, update, upsert: true } };
    }
  }
}

function withSet(set: Document, extra: Document): Document {
  return Object.keys(set).length > 0 ? { $set: set, ...extra } : extra;
}
