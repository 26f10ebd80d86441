/**
 * A client database restored from a backup keeps its client_id and reuses op_ids
 * (PROTOCOL.md 2.2): entries at or below the ledger with other content than was processed
 * under their op_id are new work, applied and logged; retries stay duplicates.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';
import { captureLogs } from './support/logs.ts';

const { lines, logger } = captureLogs();

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ logger: { ...logger, level: 'warn' } });
  token = await server.token('u1');
});
afterAll(() => server?.close());

/** One list per op_id, each its own client transaction, named after `label`. */
function lists(label: string, ...opIds: number[]) {
  return opIds.map((opId) => ({ op_id: opId, tx_id: opId, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: `${label} ${opId}`, owner_id: 'u1' } }));
}

const post = (clientId: string, batch: unknown[]) => postBatch(server, token, { client_id: clientId, batch });

async function listNames(prefix: string): Promise<string[]> {
  const rows = await sql<{ name: string }>(server.databaseUrl, 'SELECT name FROM lists WHERE name LIKE $1 ORDER BY name', [`${prefix}%`]);
  return rows.map((r) => r.name);
}

async function ledgerOf(clientId: string): Promise<number> {
  const [row] = await sql(server.databaseUrl, `SELECT last_op_id::int FROM writepath_ledger WHERE user_id = 'u1' AND client_id = $1`, [clientId]);
  return row.last_op_id;
}

function rewindLogs(clientId: string) {
  return lines.map((line) => JSON.parse(line)).filter((entry) => entry.client_id === clientId && entry.rewound !== undefined);
}

describe('a client restored from a backup', () => {
  it('gets its new writes under old op_ids applied, the ledger kept where it was, and the rewind logged', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    expect((await post(clientId, lists(`${tag} before`, 1, 2, 3, 4, 5, 6))).body).toMatchObject({ last_op_id: 6, applied: 6 });

    // The backup was taken when the queue stood at 3: op_ids 4, 5 come again, with new content.
    const restored = await post(clientId, lists(`${tag} after`, 4, 5));
    expect(restored.status).toBe(200);
    expect(restored.body).toEqual({ client_id: clientId, last_op_id: 6, applied: 2, duplicates: 0, skipped: 0, rejected: [] });
    expect(await listNames(`${tag} after`)).toEqual([`${tag} after 4`, `${tag} after 5`]);
    expect(await ledgerOf(clientId)).toBe(6);
    expect(rewindLogs(clientId)).toEqual([
      expect.objectContaining({ level: 40, user_id: 'u1', client_id: clientId, rewound: 2, first_op_id: 4, last_op_id: 5 }),
    ]);
  });

  it('keeps plain retries duplicates: the same batch, re-cut smaller, grown with newer entries', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    const batch = lists(tag, 1, 2, 3, 4);
    expect((await post(clientId, batch)).body).toMatchObject({ applied: 4 });
    expect((await post(clientId, batch)).body).toMatchObject({ last_op_id: 4, applied: 0, duplicates: 4 });
    expect((await post(clientId, batch.slice(0, 2))).body).toMatchObject({ last_op_id: 4, applied: 0, duplicates: 2 });
    expect((await post(clientId, batch.slice(2))).body).toMatchObject({ last_op_id: 4, applied: 0, duplicates: 2 });
    const grown = [...batch, ...lists(tag, 5, 6)];
    expect((await post(clientId, grown)).body).toMatchObject({ last_op_id: 6, applied: 2, duplicates: 4 });
    expect(await listNames(tag)).toHaveLength(6);
    expect(rewindLogs(clientId)).toEqual([]);
  });

  it('sorts one batch into duplicates, rewound entries and fresh ones, applied in op_id order', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    const first = lists(tag, 1, 2, 3, 4);
    await post(clientId, first);
    const list = first[1]!.id;
    // 1 and 2 as sent before; 3 and 4 new content (a todo in list 2, then a rename of it); 5 fresh.
    const mixed = [
      ...first.slice(0, 2),
      { op_id: 3, tx_id: 3, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: `${tag} todo`, list_id: list } },
      { op_id: 4, tx_id: 4, op: 'PATCH', type: 'lists', id: list, data: { name: `${tag} renamed` } },
      ...lists(tag, 5),
    ];
    const answer = await post(clientId, mixed);
    expect(answer.body).toEqual({ client_id: clientId, last_op_id: 5, applied: 3, duplicates: 2, skipped: 0, rejected: [] });
    expect(await listNames(tag)).toEqual([`${tag} 1`, `${tag} 3`, `${tag} 4`, `${tag} 5`, `${tag} renamed`]);
    const todos = await sql(server.databaseUrl, 'SELECT description FROM todos WHERE list_id = $1', [list]);
    expect(todos).toEqual([{ description: `${tag} todo` }]);
    expect(rewindLogs(clientId)).toEqual([expect.objectContaining({ rewound: 2, first_op_id: 3, last_op_id: 4 })]);

    // The rewound entries' new content is what a retry is now compared with.
    expect((await post(clientId, mixed)).body).toMatchObject({ last_op_id: 5, applied: 0, duplicates: 5 });
    expect((await post(clientId, first)).body).toMatchObject({ applied: 2, duplicates: 2 });
  });

  it('rejects a rewound entry like a fresh one, stores the rejection once, and counts its retry a duplicate', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    await post(clientId, lists(tag, 1, 2, 3));
    const bad = [
      { op_id: 2, tx_id: 9, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: `${tag} bad`, completed: 7 } },
      { op_id: 3, tx_id: 9, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: `${tag} with it` } },
    ];
    const answer = await post(clientId, bad);
    expect(answer.body).toMatchObject({ last_op_id: 3, applied: 0, duplicates: 0, skipped: 0 });
    expect(answer.body.rejected).toEqual([
      expect.objectContaining({ op_id: 2, code: 'invalid_value', column: 'completed' }),
      expect.objectContaining({ op_id: 3, code: 'transaction_rejected', cause_op_id: 2 }),
    ]);
    expect((await post(clientId, bad)).body).toEqual({ client_id: clientId, last_op_id: 3, applied: 0, duplicates: 2, skipped: 0, rejected: [] });
    const stored = await sql(server.databaseUrl, 'SELECT op_id::int, code FROM writepath_rejections WHERE client_id = $1 ORDER BY op_id', [clientId]);
    expect(stored).toEqual([
      { op_id: 2, code: 'invalid_value' },
      { op_id: 3, code: 'transaction_rejected' },
    ]);
    expect(await listNames(`${tag} with it`)).toEqual([]);
    expect(rewindLogs(clientId)).toHaveLength(1);
  });

  it('never moves the ledger back, and moves it on past the rewound entries with fresh ones', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    await post(clientId, lists(tag, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    expect((await post(clientId, lists(`${tag} again`, 2, 3))).body).toMatchObject({ last_op_id: 10, applied: 2 });
    expect(await ledgerOf(clientId)).toBe(10);
    // The restored queue grows past the ledger: those are fresh as ever.
    expect((await post(clientId, lists(`${tag} again`, 4, 11, 12))).body).toMatchObject({ last_op_id: 12, applied: 3, duplicates: 0 });
    expect(await ledgerOf(clientId)).toBe(12);
  });

  it('takes entries with no stored digest (processed before digests were kept) as duplicates', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    await post(clientId, lists(tag, 1, 2, 3));
    await sql(server.databaseUrl, 'DELETE FROM writepath_digests WHERE client_id = $1', [clientId]);
    expect((await post(clientId, lists(`${tag} new`, 2, 3, 4))).body).toMatchObject({ last_op_id: 4, applied: 1, duplicates: 2 });
    expect(await listNames(`${tag} new`)).toEqual([`${tag} new 4`]);
  });

  it('applies a rewound batch sent several times at once only once', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    await post(clientId, lists(tag, 1, 2, 3));
    const restored = lists(`${tag} restored`, 1, 2);
    const answers = await Promise.all([post(clientId, restored), post(clientId, restored), post(clientId, restored)]);
    expect(answers.map((a) => a.body.applied).sort()).toEqual([0, 0, 2]);
    expect(answers.map((a) => a.body.duplicates).sort()).toEqual([0, 2, 2]);
    expect(await listNames(`${tag} restored`)).toHaveLength(2);
  });

  it('tells rewound entries from retries when the op_ids have gaps', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    const first = lists(tag, 10, 12, 15);
    await post(clientId, first);
    // 14 has no digest (no batch held it), so nothing tells it from a retry: a duplicate.
    const restored = [first[0], ...lists(`${tag} gap`, 12, 14), first[2]];
    expect((await post(clientId, restored)).body).toMatchObject({ last_op_id: 15, applied: 1, duplicates: 3 });
    expect(await listNames(`${tag} gap`)).toEqual([`${tag} gap 12`]);
    expect((await post(clientId, restored)).body).toMatchObject({ applied: 0, duplicates: 4 });
  });

  it('keeps one digest row per batch, 8 bytes an entry', async () => {
    const clientId = randomUUID();
    await post(clientId, lists(randomUUID(), ...Array.from({ length: 50 }, (_, i) => i + 1)));
    const rows = await sql(
      server.databaseUrl,
      'SELECT first_op_id::int, last_op_id::int, op_ids IS NULL AS consecutive, length(digests) AS bytes FROM writepath_digests WHERE client_id = $1',
      [clientId],
    );
    expect(rows).toEqual([{ first_op_id: 1, last_op_id: 50, consecutive: true, bytes: 400 }]);
  });
});
