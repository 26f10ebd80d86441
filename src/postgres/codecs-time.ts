import type { ConvertResult } from '../core/schema.ts';

type Codec = (value: unknown) => ConvertResult;

const ok = (value: string): ConvertResult => ({ ok: true, value });
const no = (expected: string): ConvertResult => ({ ok: false, expected });

// ISO-8601 / RFC 3339 and SQLite's `YYYY-MM-DD HH:MM:SS[.SSS]`. Output always starts with
// a four-digit year, which Postgres reads as Y-M-D whatever the DateStyle, and carries an
// explicit offset where the type keeps one, so the session TimeZone never changes a value.
const CLOCK = '(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?';
const ZONE = '([Zz]|[+-]\\d{2}(?::?\\d{2})?)';
const TIMESTAMP = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})(?:[Tt ]${CLOCK}${ZONE}?)?$`);
const TIME = new RegExp(`^${CLOCK}${ZONE}?$`);

const TIMESTAMP_EXPECTED = 'an ISO-8601 timestamp or YYYY-MM-DD HH:MM:SS[.SSS]';
const DATE_EXPECTED = 'a date as YYYY-MM-DD (or a timestamp at midnight)';
const TIME_EXPECTED = 'a time as HH:MM[:SS[.SSS]]';
const TIMETZ_EXPECTED = 'a time as HH:MM[:SS[.SSS]][+HH:MM]';

interface Clock {
  h: number;
  mi: number;
  s: number;
  /** Fraction digits as written; Postgres rounds them to microseconds. */
  frac: string;
}

interface Stamp {
  y: number;
  mo: number;
  d: number;
  clock: Clock | undefined;
  /** Minutes east of UTC; undefined when no zone was written (which means UTC). */
  offset: number | undefined;
}

const MIDNIGHT: Clock = { h: 0, mi: 0, s: 0, frac: '' };

/**
 * `timestamptz` (input offset kept, none means `+00:00`) or `timestamp` (input with an
 * offset converted to UTC, then the offset dropped). A date alone is midnight UTC.
 */
export function timestampCodec(withZone: boolean): Codec {
  return (v) => {
    const st = typeof v === 'string' ? parseStamp(v) : undefined;
    if (!st) return no(TIMESTAMP_EXPECTED);
    const clock = st.clock ?? MIDNIGHT;
    if (withZone) return ok(`${formatDate(st.y, st.mo, st.d)} ${formatClock(clock)}${formatZone(st.offset ?? 0)}`);
    if (!st.offset) return ok(`${formatDate(st.y, st.mo, st.d)} ${formatClock(clock)}`);
    const utc = new Date(0);
    // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
    utc.setUTCFullYear(st.y, st.mo - 1, st.d);
    utc.setUTCHours(clock.h, clock.mi - st.offset, clock.s);
    const y = utc.getUTCFullYear();
    if (y < 1 || y > 9999) return no('a timestamp between the years 0001 and 9999 in UTC');
    const shifted = { ...clock, h: utc.getUTCHours(), mi: utc.getUTCMinutes() };
    return ok(`${formatDate(y, utc.getUTCMonth() + 1, utc.getUTCDate())} ${formatClock(shifted)}`);
  };
}

/**
 * `date`: `YYYY-MM-DD`, or a timestamp whose time is exactly midnight (what
 * `Date.toISOString()` makes of a date), taking the date as written. Any other time is
 * rejected rather than silently dropped.
 */
export const dateCodec: Codec = (v) => {
  const st = typeof v === 'string' ? parseStamp(v) : undefined;
  if (!st) return no(DATE_EXPECTED);
  const c = st.clock;
  if (c && (c.h !== 0 || c.mi !== 0 || c.s !== 0 || /[1-9]/.test(c.frac))) return no(DATE_EXPECTED);
  return ok(formatDate(st.y, st.mo, st.d));
};

/**
 * `timetz` (offset kept, none means `+00:00`) or `time` (an offset converts the time to
 * UTC, wrapping around midnight, then is dropped).
 */
export function timeCodec(withZone: boolean): Codec {
  const expected = withZone ? TIMETZ_EXPECTED : TIME_EXPECTED;
  return (v) => {
    const m = typeof v === 'string' ? TIME.exec(v) : null;
    const clock = m && parseClock(m, 1);
    const offset = m ? parseZone(m[5]) : null;
    if (!clock || offset === null) return no(expected);
    if (withZone) return ok(`${formatClock(clock)}${formatZone(offset ?? 0)}`);
    if (!offset) return ok(formatClock(clock));
    const minutes = (((clock.h * 60 + clock.mi - offset) % 1440) + 1440) % 1440;
    return ok(formatClock({ ...clock, h: Math.floor(minutes / 60), mi: minutes % 60 }));
  };
}

function parseStamp(text: string): Stamp | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (m[4] === undefined) return { y, mo, d, clock: undefined, offset: undefined };
  const clock = parseClock(m, 4);
  const offset = parseZone(m[8]);
  if (!clock || offset === null) return undefined;
  return { y, mo, d, clock, offset };
}

/** Hours, minutes, seconds and fraction from regex groups starting at `at`. */
function parseClock(m: RegExpExecArray, at: number): Clock | undefined {
  const h = Number(m[at]);
  const mi = Number(m[at + 1]);
  const s = Number(m[at + 2] ?? 0);
  // Postgres would take 24:00:00 and leap second 60 and roll them over; a client
  // sending them most likely has a bug, so they are rejected.
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return { h, mi, s, frac: m[at + 3] ?? '' };
}

/** Offset in minutes east of UTC, undefined without a zone, null when impossible. */
function parseZone(zone: string | undefined): number | undefined | null {
  if (zone === undefined) return undefined;
  if (zone === 'Z' || zone === 'z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = zone.length > 3 ? Number(zone.slice(-2)) : 0;
  // Postgres accepts offsets up to 15:59.
  if (hours > 15 || minutes > 59) return null;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function formatDate(y: number, mo: number, d: number): string {
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
}

function formatClock(c: Clock): string {
  return `${pad(c.h)}:${pad(c.mi)}:${pad(c.s)}${c.frac ? `.${c.frac}` : ''}`;
}

function formatZone(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
