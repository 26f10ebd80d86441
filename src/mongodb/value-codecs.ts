import { Decimal128 } from 'mongodb';
import type { ConvertResult } from '../core/schema.ts';

/**
 * The declared field types of a MongoDB table (`tables.<name>.types`) and how a client's
 * SQLite value (text, integer, real, null; JSON as text or as an object) converts to each.
 * A converted value is the type's canonical text, like the Postgres codecs' output: the
 * engine compares texts (owner checks, `old`), and `bson-values.ts` turns the text into the
 * BSON value that is stored.
 */
export const DECLARED_TYPES = ['string', 'int', 'long', 'double', 'decimal', 'bool', 'date', 'objectId', 'uuid', 'object', 'array', 'json', 'any'] as const;
export type DeclaredType = (typeof DECLARED_TYPES)[number];

export function isDeclaredType(name: string): name is DeclaredType {
  return (DECLARED_TYPES as readonly string[]).includes(name);
}

type Codec = (value: unknown) => ConvertResult;

const ok = (value: string): ConvertResult => ({ ok: true, value });
const no = (expected: string): ConvertResult => ({ ok: false, expected });

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;
const NUMBER_TEXT = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const INT64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function integer(value: unknown, [min, max]: readonly [bigint, bigint], expected: string): ConvertResult {
  let big: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && INTEGER_TEXT.test(value)) big = BigInt(value.trim());
  else return no(expected);
  return big >= min && big <= max ? ok(big.toString()) : no(expected);
}

// ISO-8601 with a zone, or SQLite's form (and ISO without a zone), which is UTC.
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const UNZONED = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$/i;

function date(value: unknown): ConvertResult {
  const expected = 'an ISO-8601 timestamp or YYYY-MM-DD HH:MM:SS[.SSS]';
  if (typeof value !== 'string') return no(expected);
  const text = value.trim();
  let ms = Number.NaN;
  if (ZONED.test(text)) ms = Date.parse(text);
  else {
    const m = UNZONED.exec(text);
    if (m) ms = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}Z`);
  }
  return Number.isNaN(ms) ? no(expected) : ok(new Date(ms).toISOString());
}

/** JSON as text or as the parsed value, kept when `accept` says so; canonical text is JSON. */
function json(accept: (parsed: unknown) => boolean, expected: string): Codec {
  return (value) => {
    let parsed: unknown = value;
    if (typeof value === 'string') {
      try {
        parsed = JSON.parse(value);
      } catch {
        return no(expected);
      }
    }
    if (parsed === null || !accept(parsed)) return no(expected);
    return keysStorable(parsed) ? ok(JSON.stringify(parsed)) : no(NUL_KEYS);
  };
}

const NUL_KEYS = 'a value without \\u0000 in its keys';

/**
 * BSON writes a document's keys as C strings: a key holding NUL cannot be stored at all,
 * and the driver would fail the whole batch on it. Walks without recursion, so deep
 * nesting cannot overflow the stack.
 */
function keysStorable(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        if (key.includes('\u0000')) return false;
        stack.push(child);
      }
    }
  }
  return true;
}

const isPlainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

const CODECS: Record<DeclaredType, Codec> = {
  string: (v) => (typeof v === 'string' ? ok(v) : typeof v === 'number' && Number.isFinite(v) ? ok(String(v)) : no('text')),
  int: (v) => integer(v, [BigInt(INT32[0]), BigInt(INT32[1])], 'a 32-bit integer'),
  long: (v) => integer(v, INT64, 'a 64-bit integer'),
  double: (v) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && NUMBER_TEXT.test(v) ? Number(v) : Number.NaN;
    return Number.isFinite(n) ? ok(String(n)) : no('a number');
  },
  decimal: (v) => {
    const text = typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' && NUMBER_TEXT.test(v) ? v.trim() : undefined;
    if (text === undefined) return no('a decimal number');
    try {
      return ok(Decimal128.fromString(text).toString());
    } catch {
      return no('a decimal number that fits decimal128');
    }
  },
  // Exactly 0, 1, true and false (PROTOCOL.md section 1).
  bool: (v) => (v === 1 || v === true ? ok('true') : v === 0 || v === false ? ok('false') : no('0, 1, true or false')),
  date,
  objectId: (v) => (typeof v === 'string' && /^[0-9a-f]{24}$/i.test(v) ? ok(v.toLowerCase()) : no('an ObjectId (24 hex digits)')),
  uuid: (v) =>
    typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? ok(v.toLowerCase()) : no('a uuid'),
  object: json(isPlainObject, 'a JSON object'),
  array: json(Array.isArray, 'a JSON array'),
  json: json(() => true, 'JSON text'),
  // Stored as it came (see write-models.ts); its text is what an owner or link compares.
  any: (v) => (v === undefined ? no('a value') : keysStorable(v) ? ok(anyText(v)) : no(NUL_KEYS)),
};

/**
 * The text of a value of an undeclared field: text as it is (so an owner column or a link
 * to a parent's id compares with the plain user or row id), numbers in decimal, the rest JSON.
 */
export function anyText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** Converts a client value to the declared type's canonical text; null stays null. */
export function convertDeclared(type: DeclaredType, value: unknown): ConvertResult {
  if (value === null) return { ok: true, value: null };
  return CODECS[type](value);
}
