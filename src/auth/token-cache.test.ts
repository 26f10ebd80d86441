import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../core/store.ts';
import { cachingAuthenticator } from './token-cache.ts';

describe('cachingAuthenticator', () => {
  it('verifies a token once until its exp or the maximum age, and never remembers a refusal', async () => {
    let clock = 1_000_000;
    const calls: string[] = [];
    const inner = async (authorization: string | undefined): Promise<AuthContext> => {
      calls.push(String(authorization));
      if (authorization === 'Bearer bad') throw new Error('refused');
      return { userId: 'u1', claims: { exp: authorization === 'Bearer short' ? (clock + 5_000) / 1000 : undefined } };
    };
    const authenticate = cachingAuthenticator(inner, { now: () => clock, maxAgeMs: 60_000, maxEntries: 2 });
    await authenticate('Bearer good');
    await authenticate('Bearer good');
    expect(calls).toEqual(['Bearer good']);
    await expect(authenticate('Bearer bad')).rejects.toThrow('refused');
    await expect(authenticate('Bearer bad')).rejects.toThrow('refused');
    expect(calls.filter((c) => c === 'Bearer bad')).toHaveLength(2);
    await authenticate('Bearer short');
    clock += 6_000;
    await authenticate('Bearer short');
    expect(calls.filter((c) => c === 'Bearer short')).toHaveLength(2);
    clock += 60_000;
    await authenticate('Bearer good');
    expect(calls.filter((c) => c === 'Bearer good')).toHaveLength(2);
    await expect(cachingAuthenticator(inner)(undefined)).resolves.toMatchObject({ userId: 'u1' });
  });
});
