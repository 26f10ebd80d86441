import { Buffer } from 'node:buffer';
import { describeValue } from '../core/describe-value.ts';
import type { ConvertResult } from '../core/schema.ts';

type Codec = (value: unknown) => ConvertResult;

const ok = (value: string): ConvertResult => ({ ok: true, value });
const no = (expected: string): ConvertResult => ({ ok: false, expected });

const JSON_EXPECTED = 'JSON text, an object or an array';

/**
 * `json` / `jsonb`: a string is JSON text and must parse (so `"5"` stores the number 5 and
 * `"null"` a JSON null); any other JSON value (object, array, number, boolean) is
 * serialised. The text is kept as written, so a `json` column stores the client's text.
 */
export function jsonCodec(name: 'json' | 'jsonb'): Codec {
  return (v) => {
    let text: string;
    let parsed: unknown;
    try {
      if (typeof v === 'string') {
        parsed = JSON.parse(v);
        text = v;
      } else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || typeof v === 'object') {
        // Escapes lone surrogates and NUL, so the text itself is always safe to send.
        text = JSON.stringify(v);
        parsed = v;
      } else {
        return no(JSON_EXPECTED);
      }
    } catch {
      return no(JSON_EXPECTED);
    }
    // A raw lone surrogate in the text would silently become U+FFFD on the way.
    if (/[\uD800-\uDFFF]/u.test(text)) return no('JSON text without unpaired surrogates');
    // Only an escape can put NUL or an unpaired surrogate into a parsed string (raw control
    // characters are not JSON, raw surrogates were refused above): no `\u`, nothing to walk.
    if (name === 'jsonb' && text.includes('\\u') && !jsonbStorable(parsed)) return no(JSONB_STRINGS);
    return ok(text);
  };
}

const JSONB_STRINGS = 'JSON without \\u0000 or unpaired surrogates in its strings';

/**
 * jsonb stores strings as text, so it refuses `\u0000` and unpaired surrogate escapes that
 * json keeps as written. Walks without recursion so deep nesting cannot overflow the stack.
 */
function jsonbStorable(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000') || /[\uD800-\uDFFF]/u.test(v)) return false;
    } else if (Array.isArray(v)) {
      // Not push(...v): spreading a huge array overflows the argument limit.
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, child] of Object.entries(v)) stack.push(key, child);
    }
  }
  return true;
}

const ARRAY_EXPECTED = 'a JSON array';
const RECTANGULAR = 'a JSON array whose nested arrays all have the same length';
// Postgres's MAXDIM.
const MAX_DIMENSIONS = 6;

/**
 * Arrays: JSON-array text (what PowerSync syncs arrays as) or an array value, each element
 * converted with the element codec, written as an array literal with every element
 * quoted, so commas, braces, quotes, empty strings and the word NULL need no special case.
 * Nested arrays are further dimensions and must be rectangular, except for json/jsonb
 * elements, where a nested array is a JSON value.
 */
export function arrayCodec(element: Codec, jsonElements: boolean): Codec {
  return (v) => {
    let items: unknown = v;
    if (typeof v === 'string') {
      try {
        items = JSON.parse(v);
      } catch {
        return no(ARRAY_EXPECTED);
      }
    }
    if (!Array.isArray(items)) return no(ARRAY_EXPECTED);
    const shape = jsonElements ? [items.length] : shapeOf(items);
    if (shape.length > MAX_DIMENSIONS) return no(`a JSON array of at most ${MAX_DIMENSIONS} dimensions`);
    const w: Writer = { element, jsonElements, out: '' };
    const problem = writeLevel(items, shape, 0, '', w);
    return problem ?? ok(w.out);
  };
}

/** Dimension lengths, following the first element of each level. */
function shapeOf(items: unknown[]): number[] {
  const shape: number[] = [];
  let level: unknown = items;
  while (Array.isArray(level) && shape.length <= MAX_DIMENSIONS) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

interface Writer {
  element: Codec;
  /** Elements are JSON values, so an array element is a value, not a dimension. */
  jsonElements: boolean;
  /** The literal so far. */
  out: string;
}

function writeLevel(items: unknown[], shape: number[], depth: number, path: string, w: Writer): ConvertResult | undefined {
  if (items.length !== shape[depth]) return no(RECTANGULAR);
  w.out += '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) w.out += ',';
    const item = items[i];
    if (depth + 1 < shape.length) {
      if (!Array.isArray(item)) return no(RECTANGULAR);
      const problem = writeLevel(item, shape, depth + 1, `${path}[${i}]`, w);
      if (problem) return problem;
      continue;
    }
    if (Array.isArray(item) && !w.jsonElements) return no(RECTANGULAR);
    const r = w.element(w.jsonElements && item !== null ? JSON.stringify(item) : item);
    if (!r.ok) return no(`a JSON array whose elements are each ${r.expected}; element ${path}[${i}] was ${describeValue(item)}`);
    w.out += r.value === null ? 'NULL' : `"${r.value.replace(/[\\"]/g, '\\$&')}"`;
  }
  w.out += '}';
  return undefined;
}

const BYTEA_EXPECTED = 'base64 text';

/**
 * `bytea` from base64 (standard or URL-safe alphabet, padding optional) to the hex input
 * form `\x…`, which Postgres reads the same whatever `bytea_output` is.
 */
export const byteaCodec: Codec = (v) => {
  if (typeof v !== 'string') return no(BYTEA_EXPECTED);
  // Buffer.from(.., 'base64') skips characters it does not know, so validate first.
  const m = /^(?:([A-Za-z0-9+/]*)|([A-Za-z0-9_-]*))(={0,2})$/.exec(v);
  const body = m?.[1] ?? m?.[2];
  if (!m || body === undefined || body.length % 4 === 1) return no(BYTEA_EXPECTED);
  const padding = m[3] ?? '';
  if (padding && (body.length + padding.length) % 4 !== 0) return no(BYTEA_EXPECTED);
  return ok(`\\x${Buffer.from(body, 'base64').toString('hex')}`);
};
