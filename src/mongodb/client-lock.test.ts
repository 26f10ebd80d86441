import { describe, expect, it } from 'vitest';
import { ClientLocks } from './client-lock.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ClientLocks', () => {
  it('lets the holders of one key in one at a time, in order, and other keys through at once', async () => {
    const locks = new ClientLocks();
    const log: string[] = [];
    const hold = async (key: string, name: string) => {
      const release = await locks.acquire(key);
      log.push(`${name} in`);
      return () => {
        log.push(`${name} out`);
        release();
      };
    };
    const first = await hold('c1', 'a');
    const second = hold('c1', 'b');
    const third = hold('c1', 'c');
    const other = await hold('c2', 'x');
    await tick();
    expect(log).toEqual(['a in', 'x in']);
    first();
    (await second)();
    (await third)();
    other();
    expect(log).toEqual(['a in', 'x in', 'a out', 'b in', 'b out', 'c in', 'c out', 'x out']);
  });

  it('ignores a second release, and frees the key for the next holder', async () => {
    const locks = new ClientLocks();
    const release = await locks.acquire('c1');
    release();
    release();
    const next = await Promise.race([locks.acquire('c1').then(() => 'acquired'), tick().then(() => 'waiting')]);
    expect(next).toBe('acquired');
  });
});
