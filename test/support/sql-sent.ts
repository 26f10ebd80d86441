import pg from 'pg';
import { vi } from 'vitest';

/** The SQL texts this process's pg clients send while `work` runs: one per query, so one per round trip. */
export async function sqlSent(work: () => Promise<unknown>): Promise<string[]> {
  const spy = vi.spyOn(pg.Client.prototype, 'query');
  try {
    await work();
    return spy.mock.calls.map(([text]) => (typeof text === 'string' ? text : (text as { text: string }).text));
  } finally {
    spy.mockRestore();
  }
}
