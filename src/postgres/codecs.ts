import type { ConvertResult } from '../core/schema.ts';
import { numericCodec, floatCodec } from './codecs-numeric.ts';
import { arrayCodec, byteaCodec, jsonCodec } from './codecs-structured.ts';
import { dateCodec, timeCodec, timestampCodec } from './codecs-time.ts';

// One rendering of client values for every message; the engine uses the same function.
export { describeValue } from '../core/describe-value.ts';

/** Converts one client value to a column type's text input form. */
export type Codec = (value: unknown) => ConvertResult;

/**
 * What a codec needs to know of a Postgres type, after domains are resolved to their base
 * type (a domain's own CHECK constraints stay the database's to enforce).
 */
export interface PgTypeDescription {
  /**
   * `pg_type.typname` of the base type for built-in types (`bool`, `int4`, `varchar`,
   * `timestamptz`, ...); SQL spellings such as `integer` or `character varying` are
   * accepted too. Types outside `pg_catalog` are named `schema.name`, so a user type that
   * happens to be called `uuid` never gets the built-in codec.
   */
  name: string;
  /** `pg_type.typcategory`: `A` array, `E` enum, `B` boolean, `N` numeric, ... */
  category: string;
  /** Enum labels in `enumsortorder`. */
  enumLabels?: readonly string[];
  /** The element type of an array. */
  element?: PgTypeDescription;
  /** The `n` of `varchar(n)` / `char(n)`, in characters. */
  maxLength?: number;
  /** The `p` and `s` of `numeric(p,s)`. */
  precision?: number;
  scale?: number;
}

const ok = (value: string | null): ConvertResult => ({ ok: true, value });
const no = (expected: string): ConvertResult => ({ ok: false, expected });

// SQL spellings, so a description can also be written by hand (tests, declared types).
const ALIASES: Record<string, string> = {
  boolean: 'bool',
  smallint: 'int2',
  integer: 'int4',
  int: 'int4',
  bigint: 'int8',
  decimal: 'numeric',
  real: 'float4',
  'double precision': 'float8',
  'character varying': 'varchar',
  // Not `char`: that typname is the one-byte internal "char" type.
  character: 'bpchar',
  'timestamp with time zone': 'timestamptz',
  'timestamp without time zone': 'timestamp',
  'time with time zone': 'timetz',
  'time without time zone': 'time',
};

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

/**
 * The codec of a Postgres type: turns what a PowerSync client sends (text, integer, real,
 * null, booleans, JSON objects/arrays) into the type's text input form, valid whatever the
 * session's DateStyle, TimeZone or float settings, or says what was expected.
 *
 * @example
 * const convert = codecFor({ name: 'int2', category: 'N' });
 * convert(7);   // { ok: true, value: '7' }
 * convert(1.5); // { ok: false, expected: 'an integer between -32768 and 32767' }
 */
export function codecFor(t: PgTypeDescription): Codec {
  const inner = scalarCodec(t);
  return (value) => (value === null || value === undefined ? ok(null) : inner(value));
}

// Types whose codec refuses everything their input function would: what passes, the
// database accepts. Unconstrained numeric is not among them (an exponent can overflow it).
const CHECKED = new Set(['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'text', 'varchar', 'bpchar', 'uuid', 'json', 'jsonb', 'bytea', 'timestamptz', 'timestamp', 'date', 'time', 'timetz']);

/**
 * Whether every value `codecFor(t)` lets through is one the type's input function accepts.
 * The fast path may fold away a value only when the database could not have refused it.
 */
export function checksInput(t: PgTypeDescription): boolean {
  if (t.category === 'A') return t.element !== undefined && checksInput(t.element);
  if (t.category === 'E') return t.enumLabels !== undefined;
  const name = ALIASES[t.name] ?? t.name;
  return CHECKED.has(name) || (name === 'numeric' && t.precision !== undefined);
}

function scalarCodec(t: PgTypeDescription): Codec {
  if (t.category === 'A' && t.element) {
    const el = t.element;
    return arrayCodec(codecFor(el), isJsonType(el));
  }
  if (t.category === 'E' && t.enumLabels) return enumCodec(t.enumLabels);
  const name = ALIASES[t.name] ?? t.name;
  const range = INT_RANGES[name];
  if (range) return integerCodec(range[0], range[1]);
  switch (name) {
    case 'bool':
      return booleanCodec;
    case 'numeric':
      return numericCodec(t.precision, t.scale);
    case 'float4':
    case 'float8':
      return floatCodec(name);
    case 'text':
    case 'varchar':
    case 'bpchar':
      return textCodec(t.maxLength);
    case 'uuid':
      return uuidCodec;
    case 'json':
    case 'jsonb':
      return jsonCodec(name);
    case 'bytea':
      return byteaCodec;
    case 'timestamptz':
    case 'timestamp':
      return timestampCodec(name === 'timestamptz');
    case 'date':
      return dateCodec;
    case 'time':
    case 'timetz':
      return timeCodec(name === 'timetz');
    default:
      return passthroughCodec;
  }
}

/** Whether array elements of this type are JSON values rather than nested dimensions. */
function isJsonType(t: PgTypeDescription): boolean {
  return t.name === 'json' || t.name === 'jsonb';
}

const booleanCodec: Codec = (v) => {
  if (v === 1 || v === true) return ok('t');
  if (v === 0 || v === false) return ok('f');
  return no('0, 1, true or false');
};

function integerCodec(min: bigint, max: bigint): Codec {
  const expected = `an integer between ${min} and ${max}`;
  return (v) => {
    let n: bigint;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < Number(min) || v > Number(max)) return no(expected);
      // A JSON number beyond 2^53 has already lost digits when it reaches us.
      if (!Number.isSafeInteger(v)) return no(`${expected}, sent as text beyond ±${Number.MAX_SAFE_INTEGER}`);
      n = BigInt(v);
    } else if (typeof v === 'string' && /^[+-]?[0-9]+$/.test(v)) {
      n = BigInt(v);
    } else {
      return no(expected);
    }
    return n < min || n > max ? no(expected) : ok(n.toString());
  };
}

/** A string Postgres can store as text, or what is wrong with it. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'text without NUL (\\u0000) characters';
  // A lone surrogate would silently become U+FFFD on its way to the database.
  if (/[\uD800-\uDFFF]/u.test(s)) return 'valid Unicode text';
  return undefined;
}

function textCodec(maxLength: number | undefined): Codec {
  return (v) => {
    // SQLite hands back whatever was stored, so a number in a text column is its text.
    const s = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
    if (s === undefined) return no('text');
    const problem = textProblem(s);
    if (problem) return no(problem);
    // Postgres counts characters (code points); an explicit ::varchar(n) cast would
    // silently truncate, so the limit is checked here.
    if (maxLength !== undefined && s.length > maxLength && [...s].length > maxLength) {
      return no(`at most ${maxLength} characters`);
    }
    return ok(s);
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uuidCodec: Codec = (v) =>
  typeof v === 'string' && UUID.test(v) ? ok(v.toLowerCase()) : no('a uuid (8-4-4-4-12 hex digits)');

const MAX_LISTED_LABELS = 10;

function enumCodec(labels: readonly string[]): Codec {
  const set = new Set(labels);
  const listed = labels.slice(0, MAX_LISTED_LABELS).join(', ');
  const more = labels.length > MAX_LISTED_LABELS ? `, … (${labels.length} labels)` : '';
  const expected = `one of: ${listed}${more}`;
  return (v) => (typeof v === 'string' && set.has(v) ? ok(v) : no(expected));
}

// Types without a codec of their own (interval, inet, ranges, ...): the database
// validates the text, and the engine turns its 22xxx error into invalid_value.
const passthroughCodec: Codec = (v) => {
  if (typeof v === 'string') {
    const problem = textProblem(v);
    return problem ? no(problem) : ok(v);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return ok(String(v));
  if (typeof v === 'boolean') return ok(String(v));
  return no('a text or number value');
};
