import { describe, expect, it } from 'vitest';
import { checksInput, codecFor, describeValue, type PgTypeDescription } from './codecs.ts';
import { fitsNumeric } from './codecs-numeric.ts';

const codec = (name: string, more: Partial<PgTypeDescription> = {}) => codecFor({ name, category: 'X', ...more });
const arrayOf = (element: PgTypeDescription) => codecFor({ name: '_x', category: 'A', element });

/** Converts and expects success, returning the text. */
function value(c: ReturnType<typeof codecFor>, v: unknown): string | null {
  const r = c(v);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(v)} to convert, got expected: ${r.expected}`);
  return r.value;
}

function expected(c: ReturnType<typeof codecFor>, v: unknown): string {
  const r = c(v);
  if (r.ok) throw new Error(`expected ${JSON.stringify(v)} to be rejected, got ${r.value}`);
  return r.expected;
}

describe('null', () => {
  it('converts to null for every type', () => {
    for (const name of ['bool', 'int4', 'text', 'uuid', 'jsonb', 'timestamptz', 'bytea', 'interval']) {
      expect(codec(name)(null)).toEqual({ ok: true, value: null });
    }
    expect(codecFor({ name: 'mood', category: 'E', enumLabels: ['a'] })(null)).toEqual({ ok: true, value: null });
  });
});

describe('boolean', () => {
  const c = codec('bool');
  it('accepts exactly 0, 1, true and false', () => {
    expect([1, true, 0, false].map((v) => value(c, v))).toEqual(['t', 't', 'f', 'f']);
  });
  it('rejects anything else', () => {
    for (const v of ['1', 'true', 't', 2, -1, 0.5, {}]) expect(expected(c, v)).toBe('0, 1, true or false');
  });
  it('knows the SQL spelling', () => expect(value(codec('boolean'), 1)).toBe('t'));
});

describe('integers', () => {
  it('accepts integers and integer text within the range of the type', () => {
    expect(value(codec('int2'), 32767)).toBe('32767');
    expect(value(codec('int2'), '-32768')).toBe('-32768');
    expect(value(codec('int4'), '+007')).toBe('7');
    expect(value(codec('int4'), -0)).toBe('0');
    expect(value(codec('int8'), '9223372036854775807')).toBe('9223372036854775807');
    expect(value(codec('int8'), Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
  });
  it('rejects fractions, out of range, unsafe numbers and non-integer text', () => {
    expect(expected(codec('int2'), 1.5)).toBe('an integer between -32768 and 32767');
    expect(expected(codec('int2'), 32768)).toBe('an integer between -32768 and 32767');
    expect(expected(codec('int4'), '1.5')).toBe('an integer between -2147483648 and 2147483647');
    expect(expected(codec('int4'), 2147483648)).toBe('an integer between -2147483648 and 2147483647');
    expect(expected(codec('int4'), 1e20)).toBe('an integer between -2147483648 and 2147483647');
    expect(expected(codec('int8'), 1e20)).toBe('an integer between -9223372036854775808 and 9223372036854775807');
    expect(expected(codec('int8'), '9223372036854775808')).toMatch(/^an integer between -9223372036854775808/);
    expect(expected(codec('int8'), 2 ** 60)).toMatch(/sent as text beyond ±9007199254740991$/);
    for (const v of ['', ' 1', '1e3', '0x10', '1_000', true, [], {}]) expect(codec('int4')(v).ok).toBe(false);
  });
});

describe('numeric, real, double precision', () => {
  it('accepts finite numbers and decimal text', () => {
    expect(value(codec('numeric'), 1.25)).toBe('1.25');
    expect(value(codec('numeric'), '-12345678901234567890.123')).toBe('-12345678901234567890.123');
    expect(value(codec('numeric'), '1e-3')).toBe('1e-3');
    expect(value(codec('float8'), 0.1)).toBe('0.1');
    expect(value(codec('float8'), -0)).toBe('-0');
    expect(value(codec('float4'), '3.5')).toBe('3.5');
    expect(value(codec('float4'), 1e-40)).toBe('1e-40');
  });
  it('rejects NaN, Infinity and non-numbers', () => {
    for (const name of ['numeric', 'float4', 'float8']) {
      for (const v of ['NaN', 'Infinity', '-Infinity', 'abc', '', '1,5', true, {}]) {
        expect(expected(codec(name), v)).toBe('a finite number');
      }
    }
  });
  it('rejects values outside the range of real and double precision', () => {
    expect(expected(codec('float4'), 1e39)).toBe('a number within the range of real');
    expect(expected(codec('float4'), '1e-50')).toBe('a number within the range of real');
    expect(expected(codec('float8'), '1e400')).toBe('a number within the range of double precision');
    expect(expected(codec('float8'), '1e-400')).toBe('a number within the range of double precision');
    expect(value(codec('float8'), '0e-400')).toBe('0e-400');
  });
  it('checks numeric(p,s) precision after rounding like Postgres', () => {
    const c = codec('numeric', { precision: 10, scale: 2 });
    expect(value(c, 99999999.994)).toBe('99999999.994');
    expect(value(c, '12345678.995')).toBe('12345678.995');
    expect(value(c, '-0.000001')).toBe('-0.000001');
    expect(expected(c, '99999999.995')).toBe('a number with at most 8 digits before the decimal point');
    expect(expected(c, 123456789)).toBe('a number with at most 8 digits before the decimal point');
    expect(expected(c, '1e8')).toBe('a number with at most 8 digits before the decimal point');
    expect(fitsNumeric('99.994', 4, 2)).toBe(true);
    expect(fitsNumeric('99.995', 4, 2)).toBe(false);
    expect(fitsNumeric('0.00099', 2, 5)).toBe(true);
    expect(fitsNumeric('0.000995', 2, 5)).toBe(false);
    expect(fitsNumeric('0.001', 2, 5)).toBe(false);
    expect(fitsNumeric('150', 2, -1)).toBe(true);
    expect(fitsNumeric('1000', 2, -1)).toBe(false);
    expect(fitsNumeric('1e99999999999', 10, 2)).toBe(false);
  });
});

describe('text, varchar(n), char(n)', () => {
  it('accepts strings and the text of numbers', () => {
    expect(value(codec('text'), 'héllo')).toBe('héllo');
    expect(value(codec('text'), 42)).toBe('42');
    expect(value(codec('text'), 1.5)).toBe('1.5');
    expect(value(codec('text'), '')).toBe('');
  });
  it('counts characters as code points', () => {
    const c = codec('varchar', { maxLength: 3 });
    expect(value(c, '😀😀😀')).toBe('😀😀😀');
    expect(expected(c, 'abcd')).toBe('at most 3 characters');
    expect(expected(codec('bpchar', { maxLength: 2 }), 'abc')).toBe('at most 2 characters');
  });
  it('rejects NUL, unpaired surrogates, booleans and objects', () => {
    expect(expected(codec('text'), 'a\u0000b')).toBe('text without NUL (\\u0000) characters');
    expect(expected(codec('text'), 'a\ud800b')).toBe('valid Unicode text');
    expect(expected(codec('text'), true)).toBe('text');
    expect(expected(codec('text'), { a: 1 })).toBe('text');
  });
});

describe('uuid', () => {
  it('accepts canonical uuids and lower-cases them', () => {
    expect(value(codec('uuid'), '0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
  });
  it('rejects other forms', () => {
    for (const v of ['0f8fad5bd9cb469fa16570867728950e', '{0f8fad5b-d9cb-469f-a165-70867728950e}', 'x', 1]) {
      expect(expected(codec('uuid'), v)).toBe('a uuid (8-4-4-4-12 hex digits)');
    }
  });
});

describe('json, jsonb', () => {
  it('keeps JSON text as written and serialises other values', () => {
    expect(value(codec('json'), '{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    expect(value(codec('jsonb'), { a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(value(codec('jsonb'), [1])).toBe('[1]');
    expect(value(codec('json'), 5)).toBe('5');
    expect(value(codec('json'), true)).toBe('true');
    expect(value(codec('json'), '"text"')).toBe('"text"');
    expect(value(codec('json'), 'null')).toBe('null');
  });
  it('rejects text that is not JSON, and strings Postgres cannot store', () => {
    expect(expected(codec('json'), 'hello')).toBe('JSON text, an object or an array');
    expect(expected(codec('jsonb'), '{"a":')).toBe('JSON text, an object or an array');
    expect(expected(codec('jsonb'), '{"a":"x\\u0000"}')).toMatch(/^JSON without \\u0000/);
    expect(value(codec('json'), '{"a":"x\\u0000"}')).toBe('{"a":"x\\u0000"}');
    expect(expected(codec('jsonb'), '["\\ud800"]')).toMatch(/^JSON without \\u0000 or unpaired surrogates/);
    expect(value(codec('json'), '["\\ud800"]')).toBe('["\\ud800"]');
    expect(expected(codec('json'), '["\ud800"]')).toBe('JSON text without unpaired surrogates');
    expect(expected(codec('jsonb'), { a: '\u0000' })).toMatch(/^JSON without \\u0000/);
    expect(value(codec('json'), { a: '\u0000' })).toBe('{"a":"\\u0000"}');
  });
});

describe('arrays', () => {
  const text = arrayOf({ name: 'text', category: 'S' });
  const int = arrayOf({ name: 'int4', category: 'N' });
  it('writes JSON arrays as quoted array literals', () => {
    expect(value(text, '["a", "b,c", "{x}", "say \\"hi\\"", "back\\\\slash", "", "NULL", null]')).toBe(
      '{"a","b,c","{x}","say \\"hi\\"","back\\\\slash","","NULL",NULL}',
    );
    expect(value(int, [1, '2', null])).toBe('{"1","2",NULL}');
    expect(value(int, '[]')).toBe('{}');
    expect(value(arrayOf({ name: 'bool', category: 'B' }), [1, 0, true])).toBe('{"t","f","t"}');
    expect(value(arrayOf({ name: 'uuid', category: 'U' }), ['0F8FAD5B-D9CB-469F-A165-70867728950E'])).toBe(
      '{"0f8fad5b-d9cb-469f-a165-70867728950e"}',
    );
  });
  it('supports rectangular multi-dimensional arrays', () => {
    expect(value(int, '[[1,2],[3,4]]')).toBe('{{"1","2"},{"3","4"}}');
    expect(expected(int, '[[1,2],[3]]')).toBe('a JSON array whose nested arrays all have the same length');
    expect(expected(int, '[[1,2],3]')).toBe('a JSON array whose nested arrays all have the same length');
  });
  it('treats nested values of json[] as JSON values', () => {
    expect(value(arrayOf({ name: 'jsonb', category: 'U' }), '[{"a":1},[1],"s",null]')).toBe('{"{\\"a\\":1}","[1]","\\"s\\"",NULL}');
  });
  it('names the element that does not convert', () => {
    expect(expected(int, '[1, 2.5]')).toBe('a JSON array whose elements are each an integer between -2147483648 and 2147483647; element [1] was 2.5');
    expect(expected(arrayOf({ name: 'varchar', category: 'S', maxLength: 1 }), [['a', 'bb']])).toBe(
      'a JSON array whose elements are each at most 1 characters; element [0][1] was "bb"',
    );
  });
  it('rejects what is not a JSON array', () => {
    for (const v of ['{a,b}', '"a"', '{"a":1}', 1, { a: 1 }]) expect(expected(text, v)).toBe('a JSON array');
  });
});

describe('timestamps', () => {
  const tz = codec('timestamptz');
  const ts = codec('timestamp');
  it('timestamptz: keeps the offset, no zone means UTC', () => {
    expect(value(tz, '2024-05-01T10:20:30Z')).toBe('2024-05-01 10:20:30+00:00');
    expect(value(tz, '2024-05-01T10:20:30.123456+02:00')).toBe('2024-05-01 10:20:30.123456+02:00');
    expect(value(tz, '2024-05-01 10:20:30.123')).toBe('2024-05-01 10:20:30.123+00:00');
    expect(value(tz, '2024-05-01T10:20-0530')).toBe('2024-05-01 10:20:00-05:30');
    expect(value(tz, '2024-05-01')).toBe('2024-05-01 00:00:00+00:00');
  });
  it('timestamp: converts an offset to UTC and drops it', () => {
    expect(value(ts, '2024-05-01 10:20:30')).toBe('2024-05-01 10:20:30');
    expect(value(ts, '2024-05-01T01:20:30.5+02:00')).toBe('2024-04-30 23:20:30.5');
    expect(value(ts, '2024-12-31T23:30:00-01:00')).toBe('2025-01-01 00:30:00');
    expect(value(ts, '0050-03-01T00:00:00+01:00')).toBe('0050-02-28 23:00:00');
    expect(expected(ts, '0001-01-01T00:00:00+01:00')).toBe('a timestamp between the years 0001 and 9999 in UTC');
  });
  it('rejects impossible dates and times, other forms and epoch numbers', () => {
    for (const v of ['2024-02-30T00:00:00Z', '2023-02-29 00:00:00', '2024-05-01 25:00:00', '2024-05-01 10:60:00',
      '2024-05-01 10:00:61', '2024-13-01', '0000-01-01', '2024-05-01T10:20:30+16:00', '01/05/2024', 'now',
      'infinity', '2024-05-01T10:20:30 Z', 1714558830, true]) {
      expect(expected(tz, v)).toBe('an ISO-8601 timestamp or YYYY-MM-DD HH:MM:SS[.SSS]');
    }
    expect(value(tz, '2024-02-29 00:00:00')).toBe('2024-02-29 00:00:00+00:00');
  });
  it('date: YYYY-MM-DD or a timestamp at midnight', () => {
    const d = codec('date');
    expect(value(d, '2024-05-01')).toBe('2024-05-01');
    expect(value(d, '2024-05-01T00:00:00.000Z')).toBe('2024-05-01');
    expect(expected(d, '2024-05-01T10:00:00Z')).toBe('a date as YYYY-MM-DD (or a timestamp at midnight)');
    expect(expected(d, '2024-02-30')).toBe('a date as YYYY-MM-DD (or a timestamp at midnight)');
  });
  it('time and timetz', () => {
    expect(value(codec('time'), '10:20')).toBe('10:20:00');
    expect(value(codec('time'), '10:20:30.25')).toBe('10:20:30.25');
    expect(value(codec('time'), '01:20:00+02:00')).toBe('23:20:00');
    expect(value(codec('timetz'), '10:20:30')).toBe('10:20:30+00:00');
    expect(value(codec('timetz'), '10:20:30-03:00')).toBe('10:20:30-03:00');
    expect(expected(codec('time'), '24:00:00')).toBe('a time as HH:MM[:SS[.SSS]]');
    expect(expected(codec('timetz'), '2024-05-01T10:20:30Z')).toBe('a time as HH:MM[:SS[.SSS]][+HH:MM]');
  });
});

describe('enums', () => {
  it('accepts known labels and lists them otherwise', () => {
    const c = codecFor({ name: 'public.mood', category: 'E', enumLabels: ['happy', 'sad'] });
    expect(value(c, 'sad')).toBe('sad');
    expect(expected(c, 'Sad')).toBe('one of: happy, sad');
    expect(expected(c, 1)).toBe('one of: happy, sad');
  });
  it('shortens a long list', () => {
    const labels = Array.from({ length: 15 }, (_, i) => `l${i}`);
    expect(expected(codecFor({ name: 'e', category: 'E', enumLabels: labels }), 'x')).toBe(
      'one of: l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, … (15 labels)',
    );
  });
});

describe('bytea', () => {
  const c = codec('bytea');
  it('decodes base64 to hex input form', () => {
    expect(value(c, 'AQL/')).toBe('\\x0102ff');
    expect(value(c, 'AQI=')).toBe('\\x0102');
    expect(value(c, 'AQI')).toBe('\\x0102');
    expect(value(c, 'AQL_')).toBe('\\x0102ff');
    expect(value(c, '')).toBe('\\x');
  });
  it('rejects invalid base64', () => {
    for (const v of ['A', 'AQ=I', 'AQ I=', 'AQ+_', 'AQ===', '@@@@', 12]) expect(expected(c, v)).toBe('base64 text');
  });
});

describe('other types', () => {
  it('pass strings and numbers through, reject objects', () => {
    const c = codec('interval');
    expect(value(c, '1 day')).toBe('1 day');
    expect(value(c, 5)).toBe('5');
    expect(value(codec('inet'), '10.0.0.1')).toBe('10.0.0.1');
    expect(expected(c, { a: 1 })).toBe('a text or number value');
    expect(expected(c, 'a\u0000')).toBe('text without NUL (\\u0000) characters');
  });
  it('a user type named like a built-in gets no built-in codec', () => {
    expect(value(codec('app.uuid'), 'not-a-uuid')).toBe('not-a-uuid');
  });
});

describe('describeValue', () => {
  it('renders what came, shortly', () => {
    expect(describeValue('abc')).toBe('"abc"');
    expect(describeValue(1.5)).toBe('1.5');
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue(null)).toBe('null');
    expect(describeValue('x'.repeat(500)).length).toBeLessThan(70);
  });
});

describe('checksInput', () => {
  it('vouches for types whose codec refuses what the database would, not for pass-through types', () => {
    expect(checksInput({ name: 'uuid', category: 'U' })).toBe(true);
    expect(checksInput({ name: 'integer', category: 'N' })).toBe(true);
    expect(checksInput({ name: 'numeric', category: 'N', precision: 10, scale: 2 })).toBe(true);
    expect(checksInput({ name: 'numeric', category: 'N' })).toBe(false);
    expect(checksInput({ name: 'interval', category: 'T' })).toBe(false);
    expect(checksInput({ name: '_text', category: 'A', element: { name: 'text', category: 'S' } })).toBe(true);
    expect(checksInput({ name: '_inet', category: 'A', element: { name: 'inet', category: 'I' } })).toBe(false);
    expect(checksInput({ name: 'public.mood', category: 'E', enumLabels: ['a'] })).toBe(true);
  });
});
