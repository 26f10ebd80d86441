import { Binary, Decimal128, Int32, Long, ObjectId, UUID } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { toBson, toClientValue, toText } from './bson-values.ts';
import { convertDeclared, type DeclaredType } from './value-codecs.ts';

const converts = (type: DeclaredType, value: unknown) => {
  const result = convertDeclared(type, value);
  return result.ok ? result.value : `!${result.expected}`;
};

describe('declared types: client values', () => {
  it('booleans accept exactly 0, 1, true and false', () => {
    expect([0, 1, true, false].map((v) => converts('bool', v))).toEqual(['false', 'true', 'true', 'false']);
    for (const bad of [2, -1, '1', 'true', 0.5]) expect(converts('bool', bad)).toBe('!0, 1, true or false');
  });

  it('integers: int is 32-bit, long 64-bit, from numbers or integer text', () => {
    expect(converts('int', 42)).toBe('42');
    expect(converts('int', ' -7 ')).toBe('-7');
    expect(converts('int', 2 ** 31)).toBe('!a 32-bit integer');
    expect(converts('int', 1.5)).toBe('!a 32-bit integer');
    expect(converts('long', '9223372036854775807')).toBe('9223372036854775807');
    expect(converts('long', '9223372036854775808')).toBe('!a 64-bit integer');
    expect(converts('long', 'ten')).toBe('!a 64-bit integer');
  });

  it('doubles and decimals from numbers or numeric text', () => {
    expect(converts('double', 1.5)).toBe('1.5');
    expect(converts('double', '2.50')).toBe('2.5');
    expect(converts('double', 'NaN')).toBe('!a number');
    expect(converts('decimal', '12.30')).toBe('12.30');
    expect(converts('decimal', 0.1)).toBe('0.1');
    expect(converts('decimal', 'x')).toBe('!a decimal number');
  });

  it('dates from ISO-8601 or SQLite text; without a zone they are UTC', () => {
    expect(converts('date', '2024-05-01 10:20:30')).toBe('2024-05-01T10:20:30.000Z');
    expect(converts('date', '2024-05-01 10:20:30.123')).toBe('2024-05-01T10:20:30.123Z');
    expect(converts('date', '2024-05-01T12:00:00+02:00')).toBe('2024-05-01T10:00:00.000Z');
    expect(converts('date', '2024-05-01')).toBe('2024-05-01T00:00:00.000Z');
    expect(converts('date', 'yesterday')).toMatch(/^!an ISO-8601 timestamp/);
    expect(converts('date', 1714557630)).toMatch(/^!/);
  });

  it('ids: objectId and uuid in canonical lower case', () => {
    expect(converts('objectId', '65A1B2C3D4E5F60718293A4B')).toBe('65a1b2c3d4e5f60718293a4b');
    expect(converts('objectId', 'xyz')).toBe('!an ObjectId (24 hex digits)');
    expect(converts('uuid', 'C22967EE-1C59-4D39-BCAC-428789309E6C')).toBe('c22967ee-1c59-4d39-bcac-428789309e6c');
    expect(converts('uuid', 'not-a-uuid')).toBe('!a uuid');
  });

  it('JSON: object, array and json from JSON text or parsed values', () => {
    expect(converts('object', '{"a":1}')).toBe('{"a":1}');
    expect(converts('object', { a: [1] })).toBe('{"a":[1]}');
    expect(converts('object', '[1]')).toBe('!a JSON object');
    expect(converts('array', '[1,"x"]')).toBe('[1,"x"]');
    expect(converts('array', '{')).toBe('!a JSON array');
    expect(converts('json', '"text"')).toBe('"text"');
    expect(converts('json', 'text')).toBe('!JSON text');
  });

  it('refuses keys holding NUL at any depth, which BSON cannot store; NUL in a string value is fine', () => {
    const nul = 'a value without \\u0000 in its keys';
    expect(converts('object', '{"a\\u0000b":1}')).toBe(`!${nul}`);
    expect(converts('array', '[{"x":{"\\u0000":1}}]')).toBe(`!${nul}`);
    expect(converts('json', { deep: [[{ 'k\u0000': true }]] })).toBe(`!${nul}`);
    expect(converts('any', { x: { 'a\u0000b': 1 } })).toBe(`!${nul}`);
    expect(converts('object', '{"a":"x\\u0000y"}')).toBe('{"a":"x\\u0000y"}');
    expect(converts('any', 'plain\u0000text')).toBe('plain\u0000text');
  });

  it('null converts to null for every type; string takes text and numbers', () => {
    for (const type of ['string', 'int', 'bool', 'date', 'object', 'any'] as const) expect(converts(type, null)).toBeNull();
    expect(converts('string', 'a')).toBe('a');
    expect(converts('string', 3)).toBe('3');
    expect(converts('string', {})).toBe('!text');
  });
});

describe('declared types: BSON both ways', () => {
  it('stores each type as its BSON type and reads it back to the same text', () => {
    const cases: Array<[DeclaredType, string, (v: unknown) => boolean]> = [
      ['int', '42', (v) => v instanceof Int32],
      ['long', '9007199254740993', (v) => v instanceof Long],
      ['decimal', '12.30', (v) => v instanceof Decimal128],
      ['date', '2024-05-01T10:20:30.000Z', (v) => v instanceof Date],
      ['objectId', '65a1b2c3d4e5f60718293a4b', (v) => v instanceof ObjectId],
      ['uuid', 'c22967ee-1c59-4d39-bcac-428789309e6c', (v) => v instanceof UUID],
      ['bool', 'true', (v) => v === true],
      ['array', '[1,"x"]', Array.isArray],
    ];
    for (const [type, text, isStored] of cases) {
      const stored = toBson(type, text);
      expect(isStored(stored), type).toBe(true);
      expect(toText(type, stored), type).toBe(text);
    }
  });

  it('reads a uuid the driver returns as a plain Binary', () => {
    const binary = new Binary(new UUID('c22967ee-1c59-4d39-bcac-428789309e6c').buffer, Binary.SUBTYPE_UUID);
    expect(toText('uuid', binary)).toBe('c22967ee-1c59-4d39-bcac-428789309e6c');
  });

  it('represents stored values as a PowerSync client holds them', () => {
    expect(toClientValue('bool', true)).toBe(1);
    expect(toClientValue('object', { a: 1 })).toBe('{"a":1}');
    expect(toClientValue('date', new Date('2024-05-01T10:20:30Z'))).toBe('2024-05-01T10:20:30.000Z');
    expect(toClientValue('objectId', new ObjectId('65a1b2c3d4e5f60718293a4b'))).toBe('65a1b2c3d4e5f60718293a4b');
    expect(toClientValue('decimal', Decimal128.fromString('1.50'))).toBe('1.50');
    expect(toClientValue(undefined, 7)).toBe(7);
    expect(toClientValue('string', undefined)).toBeNull();
  });
});
