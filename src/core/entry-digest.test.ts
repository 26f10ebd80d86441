import { describe, expect, it } from 'vitest';
import type { RawEntry } from '../protocol/wire.ts';
import { digestEntries, digestsAbove, LazyDigests, sameDigest } from './entry-digest.ts';

const base = {
  op_id: 1,
  tx_id: 3,
  op: 'PATCH',
  type: 'todos',
  id: 'a1',
  data: { completed: 1, note: 'é ☃', tags: '["x"]', n: null, f: 1.5 },
  old: { completed: 0 },
  metadata: '{"by":"u1"}',
};
const entry = (fields: Record<string, unknown>): RawEntry => ({ opId: fields.op_id as number, txId: fields.tx_id as number | undefined, fields });
const hex = (...fields: Record<string, unknown>[]) => Buffer.from(digestEntries(fields.map(entry))).toString('hex');

describe('digestEntries', () => {
  it('gives the digest it always gave: stored digests are compared with it later', () => {
    // Changing this value means every digest already stored differs: retries would be applied again.
    expect(hex(base)).toBe('7578892e12e74ae2');
  });

  it('packs 8 bytes per entry, in entry order', () => {
    const two = digestEntries([entry(base), entry({ ...base, op_id: 2, id: 'a2' })]);
    expect(two).toHaveLength(16);
    expect(Buffer.from(two.subarray(0, 8)).toString('hex')).toBe(hex(base));
  });

  it('leaves op_id out, so a retry under the same op_id matches and a rewound one is told by content', () => {
    expect(hex({ ...base, op_id: 99 })).toBe(hex(base));
    expect(hex(JSON.parse(JSON.stringify(base)))).toBe(hex(base));
  });

  it.each([
    ['tx_id', { tx_id: 4 }],
    ['tx_id absent', { tx_id: undefined }],
    ['op', { op: 'PUT' }],
    ['type', { type: 'lists' }],
    ['id', { id: 'a2' }],
    ['a value', { data: { ...base.data, completed: 0 } }],
    ['a number as text', { data: { ...base.data, completed: '1' } }],
    ['null for a value', { data: { ...base.data, f: null } }],
    ['a column more', { data: { ...base.data, extra: 1 } }],
    ['a value moved to another key', { data: { completed: 1, note: 'é ☃', tags: '["x"]', f: null, n: 1.5 } }],
    ['old', { old: { completed: 1 } }],
    ['no old', { old: undefined }],
    ['metadata', { metadata: '{"by":"u2"}' }],
    ['a string split differently', { type: 'tod', id: 'osa1' }],
  ])('changes with %s', (_name, change) => {
    expect(hex({ ...base, ...change })).not.toBe(hex(base));
  });

  it('compares digests in place', () => {
    const left = digestEntries([entry(base), entry({ ...base, id: 'b' })]);
    const right = digestEntries([entry({ ...base, id: 'b' })]);
    expect(sameDigest(left, 1, right, 0)).toBe(true);
    expect(sameDigest(left, 0, right, 0)).toBe(false);
  });
});

describe('digestsAbove', () => {
  it('drops the op_ids at or below the horizon, with their digests', () => {
    const bytes = (...n: number[]) => new Uint8Array(n.flatMap((v) => Array.from({ length: 8 }, () => v)));
    const records = [
      { opIds: [1, 2, 3], digests: bytes(1, 2, 3) },
      { opIds: [4, 6, 8], digests: bytes(4, 6, 8) },
      { opIds: [9, 10], digests: bytes(9, 10) },
    ];
    expect(digestsAbove(records, 5)).toEqual([
      { opIds: [6, 8], digests: bytes(6, 8) },
      { opIds: [9, 10], digests: bytes(9, 10) },
    ]);
    expect(digestsAbove(records, 0)).toEqual(records);
    expect(digestsAbove(records, 10)).toEqual([]);
  });
});

describe('LazyDigests', () => {
  it('gives the digests digestEntries gives, however it is asked for them', () => {
    const entries = Array.from({ length: 7 }, (_, i) => entry({ ...base, op_id: i + 1, id: `a${i}` }));
    const whole = digestEntries(entries);
    const lazy = new LazyDigests(entries);
    expect(lazy.upTo(2).subarray(0, 16)).toEqual(whole.subarray(0, 16));
    expect(lazy.step(3)).toBe(true);
    expect(lazy.upTo(5).subarray(0, 40)).toEqual(whole.subarray(0, 40));
    expect(lazy.step(3)).toBe(false);
    expect(lazy.all()).toEqual(whole);
  });
});
