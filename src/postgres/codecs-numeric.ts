import type { ConvertResult } from '../core/schema.ts';

type Codec = (value: unknown) => ConvertResult;

const ok = (value: string): ConvertResult => ({ ok: true, value });
const no = (expected: string): ConvertResult => ({ ok: false, expected });

// Plain decimal notation with an optional exponent; no NaN/Infinity, no whitespace, no
// hex or underscores, so what passes here means the same number to every reader.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

const NUMBER = 'a finite number';

/** Decimal text of a finite JSON number or numeric string, or undefined. */
function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'string' && DECIMAL.test(v)) return v;
  return undefined;
}

/**
 * `numeric` / `numeric(p,s)`. Precision is checked here, with Postgres's rounding (half
 * away from zero to `s` places), because the engine casts with `::numeric(p,s)` and a
 * value that does not fit should be this column's `invalid_value`, not a database error.
 */
export function numericCodec(precision?: number, scale = 0): Codec {
  const limit = precision === undefined ? undefined : precision - scale;
  const overflow =
    limit === undefined
      ? ''
      : limit > 0
      ? `a number with at most ${limit} digits before the decimal point`
      : `a number whose absolute value rounds below 1e${limit}`;
  return (v) => {
    const text = numberText(v);
    if (text === undefined) return no(NUMBER);
    if (precision !== undefined && !fitsNumeric(text, precision, scale)) return no(overflow);
    return ok(text);
  };
}

/** Whether decimal `text` rounded to `scale` places is below 10^(precision - scale). */
export function fitsNumeric(text: string, precision: number, scale: number): boolean {
  const m = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return false;
  const fraction = m[2] ?? '';
  const digits = ((m[1] ?? '') + fraction).replace(/^0+/, '');
  if (digits === '') return true;
  // value = digits × 10^exp, and it has (digits.length + exp) digits before the point.
  const exp = Number(m[3] ?? 0) - fraction.length;
  const length = digits.length;
  // Rounding never removes integer digits, so this much is too many whatever follows.
  if (length + exp > precision - scale) return false;
  const dropped = -exp - scale;
  if (dropped <= 0 || dropped > length) return true;
  // Rounding up may carry into one more digit (99.995 -> 100.00).
  let scaled = BigInt(digits.slice(0, length - dropped) || '0');
  if ((digits[length - dropped] ?? '0') >= '5') scaled += 1n;
  return scaled.toString().length <= precision;
}

const FLOAT_NAMES = { float4: 'real', float8: 'double precision' } as const;

/**
 * `real` / `double precision`. A value that becomes infinite or underflows to zero in the
 * type is rejected here, as Postgres would reject it (22003).
 */
export function floatCodec(name: 'float4' | 'float8'): Codec {
  const outOfRange = `a number within the range of ${FLOAT_NAMES[name]}`;
  return (v) => {
    const text = numberText(v);
    if (text === undefined) return no(NUMBER);
    const n = Number(text);
    const stored = name === 'float4' ? Math.fround(n) : n;
    if (!Number.isFinite(stored)) return no(outOfRange);
    if (stored === 0 && /[1-9]/.test(text.replace(/[eE].*$/, ''))) return no(outOfRange);
    // String(-0) is "0"; keep the sign the client stored.
    return ok(typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : text);
  };
}
