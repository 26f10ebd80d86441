import type { TableConfig } from '../config/schema.ts';
import type { ColumnInfo, TableInfo } from '../core/schema.ts';
import { convertDeclared, DECLARED_TYPES, isDeclaredType, type DeclaredType } from './value-codecs.ts';

/**
 * A MongoDB collection as the engine sees it, built from the configuration, not from the
 * database (a collection has no schema to read): the declared fields with their types, and
 * the row id, which is always stored in `_id`.
 *
 * Which fields are writable:
 * - `types` and/or `columns` given: the fields they name (a field in `columns` without a
 *   declared type is stored as it came, type `any`); any other field is `unknown_column`.
 * - neither: every field is writable and stored as it came (text, number, null). Names
 *   that MongoDB reads as operators or paths (`$…`, `a.b`, empty) and `_id` never are.
 */
export interface MongoTableInfo extends TableInfo {
  /** The declared type of each known field; the key column's is the id's. */
  types: ReadonlyMap<string, DeclaredType>;
  /** Whether fields are declared (otherwise any safe field name is writable). */
  declared: boolean;
  /** The client's name of the key column (`id_column`, default `id`); stored as `_id`. */
  idColumn: string;
}

/** A field name MongoDB stores as written: not an operator, not a path, not the id. */
export function isSafeFieldName(name: string): boolean {
  return name.length > 0 && !name.startsWith('$') && !name.includes('.') && !name.includes('\0') && name !== '_id';
}

function column(name: string, type: DeclaredType): ColumnInfo {
  return { name, type, nullable: true, generated: false, hasDefault: false, convert: (value) => convertDeclared(type, value) };
}

/**
 * Columns of a collection without declared fields: every safe name answers as an `any`
 * field, made when first asked for. Iterating lists the key column only.
 */
class OpenColumns extends Map<string, ColumnInfo> {
  override get(name: string): ColumnInfo | undefined {
    const known = super.get(name);
    if (known || !isSafeFieldName(name)) return known;
    return column(name, 'any');
  }

  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/** The table of a configured collection; `problems` collects what is wrong with its config. */
export function mongoTable(clientName: string, config: TableConfig, problems: string[]): MongoTableInfo {
  const where = `tables.${clientName}`;
  const name = config.table ?? clientName;
  const idColumn = config.id_column;
  const types = new Map<string, DeclaredType>();
  for (const [field, type] of Object.entries(config.types ?? {})) {
    if (!isDeclaredType(type)) {
      problems.push(`${where}.types.${field}: unknown type ${type} (one of ${DECLARED_TYPES.join(', ')})`);
      continue;
    }
    if (field === '_id' || field === idColumn) types.set(idColumn, type);
    else if (!isSafeFieldName(field)) problems.push(`${where}.types.${field}: not a field name MongoDB stores as written`);
    else types.set(field, type);
  }
  for (const field of config.columns ?? []) {
    if (!isSafeFieldName(field)) problems.push(`${where}.columns: ${field} is not a field name MongoDB stores as written`);
    else if (!types.has(field)) types.set(field, 'any');
  }
  const idType = types.get(idColumn) ?? 'string';
  if (!['string', 'objectId', 'uuid', 'int', 'long'].includes(idType)) {
    problems.push(`${where}.types: the id cannot be of type ${idType} (string, objectId, uuid, int or long)`);
  }
  types.set(idColumn, idType);
  const declared = config.types !== undefined || config.columns !== undefined;
  const columns = declared ? new Map<string, ColumnInfo>() : new OpenColumns();
  columns.set(idColumn, column(idColumn, idType));
  if (declared) for (const [field, type] of types) if (field !== idColumn) columns.set(field, column(field, type));
  return { schema: '', name, columns, types, declared, idColumn };
}

/** The declared type of a field; undeclared fields of an open collection are `any`. */
export function typeOf(table: MongoTableInfo, field: string): DeclaredType {
  return table.types.get(field) ?? 'any';
}
