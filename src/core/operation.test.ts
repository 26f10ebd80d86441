import { describe, expect, it } from 'vitest';
import { transactionParts, type ClientTransaction } from './operation.ts';

/** Client transactions of the given sizes, their entries numbered from 1. */
function transactions(...sizes: number[]): ClientTransaction<number>[] {
  let n = 0;
  return sizes.map((size, i) => ({ txId: i + 1, entries: Array.from({ length: size }, () => ++n) }));
}
const sizesOf = (parts: Iterable<ClientTransaction<number>[]>) => [...parts].map((p) => p.reduce((n, t) => n + t.entries.length, 0));

describe('transactionParts', () => {
  it('cuts whole transactions into parts of about the size, in order', () => {
    const groups = transactions(3, 3, 3, 1, 2, 5, 1);
    const parts = [...transactionParts(groups, 6)];
    expect(parts.flat()).toEqual(groups);
    expect(sizesOf(parts)).toEqual([6, 6, 6]);
    // A transaction is never split, however large.
    expect(sizesOf(transactionParts(transactions(1, 20, 1), 4))).toEqual([21, 1]);
  });

  it('starts at firstSize and doubles up to the size', () => {
    const groups = transactions(...Array.from({ length: 40 }, () => 1));
    expect(sizesOf(transactionParts(groups, 8, 2))).toEqual([2, 4, 8, 8, 8, 8, 2]);
    expect(sizesOf(transactionParts(groups, 8, 100))).toEqual([8, 8, 8, 8, 8]);
  });
});
