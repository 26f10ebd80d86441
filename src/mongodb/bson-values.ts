import { Binary, Decimal128, Double, Int32, Long, ObjectId, UUID } from 'mongodb';
import { anyText, type DeclaredType } from './value-codecs.ts';

/**
 * Between a declared type's canonical text (what `value-codecs.ts` makes of a client value)
 * and the BSON value stored, both ways, and a stored value as a PowerSync client holds it.
 */

/** The BSON value to store for a converted value. */
export function toBson(type: DeclaredType, text: string | null): unknown {
  if (text === null) return null;
  switch (type) {
    case 'string':
      return text;
    case 'int':
      return new Int32(Number(text));
    case 'long':
      return Long.fromString(text);
    case 'double':
      return new Double(Number(text));
    case 'decimal':
      return Decimal128.fromString(text);
    case 'bool':
      return text === 'true';
    case 'date':
      return new Date(text);
    case 'objectId':
      return new ObjectId(text);
    case 'uuid':
      return new UUID(text);
    case 'object':
    case 'array':
    case 'json':
      return JSON.parse(text);
    case 'any':
      // Only for a value the server made (an owner filled in); a client's value is stored as it came.
      return text;
  }
}

/**
 * A stored value as the canonical text of its declared type, for comparisons with converted
 * client values (owner checks, conflict checks). A value stored in another shape (written
 * by something else) gets a best effort text, which simply compares unequal.
 */
export function toText(type: DeclaredType, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : plainText(value);
    case 'int':
    case 'long':
    case 'double':
    case 'decimal':
      return numberText(value);
    case 'bool':
      return typeof value === 'boolean' ? String(value) : plainText(value);
    case 'date':
      return value instanceof Date ? value.toISOString() : plainText(value);
    case 'objectId':
    case 'uuid':
      return plainText(value);
    case 'any':
      return anyText(toPlain(value));
    default:
      return JSON.stringify(toPlain(value));
  }
}

/** A stored value as a PowerSync client represents it: booleans 0/1, JSON and arrays as text. */
export function toClientValue(type: DeclaredType | undefined, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  if (type === 'object' || type === 'array' || type === 'json') return JSON.stringify(toPlain(value));
  if (typeof value === 'object' && !isBsonScalar(value)) return JSON.stringify(toPlain(value));
  const plain = toPlain(value);
  return plain;
}

function numberText(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value instanceof Long || value instanceof Decimal128) return value.toString();
  if (value instanceof Int32 || value instanceof Double) return String(value.valueOf());
  return plainText(value);
}

function plainText(value: unknown): string {
  const plain = toPlain(value);
  return typeof plain === 'string' ? plain : JSON.stringify(plain);
}

function isBsonScalar(value: object): boolean {
  return value instanceof ObjectId || value instanceof Binary || value instanceof Long || value instanceof Decimal128 || value instanceof Int32 || value instanceof Double;
}

/** BSON wrappers to plain JSON values: ids and uuids as text, numbers as numbers (Long, Decimal128 as text when they do not fit). */
function toPlain(value: unknown): unknown {
  if (value instanceof ObjectId) return value.toHexString();
  if (value instanceof Binary) return value.sub_type === Binary.SUBTYPE_UUID ? value.toUUID().toHexString(true) : value.toString('base64');
  if (value instanceof Long) return value.toString();
  if (value instanceof Decimal128) return value.toString();
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}
