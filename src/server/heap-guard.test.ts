import { describe, expect, it } from 'vitest';
import { HeapGuard } from './heap-guard.ts';

const LARGE = 4 * 1024 * 1024;

function guard(execArgv: string[] = []) {
  const flags: string[] = [];
  const g = new HeapGuard((f) => flags.push(f));
  g.enable(execArgv);
  return { g, flags };
}

describe('HeapGuard', () => {
  it('bounds heap growth once while large batches overlap, and restores it after the last', () => {
    const { g, flags } = guard();
    const first = g.hold(LARGE);
    const second = g.hold(LARGE * 5);
    expect(flags).toEqual(['--heap-growing-percent=25']);
    second();
    second();
    expect(flags).toEqual(['--heap-growing-percent=25']);
    first();
    expect(flags).toEqual(['--heap-growing-percent=25', '--heap-growing-percent=0']);
  });

  it('leaves small batches alone', () => {
    const { g, flags } = guard();
    g.hold(LARGE - 1)();
    expect(flags).toEqual([]);
  });

  it('does nothing unless enabled, or when node was started with its own setting', () => {
    new HeapGuard(() => expect.fail('no flag may be set')).hold(LARGE * 10)();
    const { g, flags } = guard(['--heap-growing-percent=25']);
    g.hold(LARGE * 10)();
    expect(flags).toEqual([]);
  });
});
