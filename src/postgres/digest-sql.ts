import type pg from 'pg';
import { DIGEST_BYTES } from '../core/entry-digest.ts';
import type { EntryDigests } from '../core/store.ts';
import type { PreparableStatement } from './prepared-statements.ts';
import { safeInteger } from './server-tables.ts';
import { literal } from './sql.ts';

/**
 * Digests of processed entries in `writepath_digests`: one row per batch, not per entry,
 * with the digests packed 8 bytes each in a bytea, and the op_ids too only when they have
 * gaps (a batch's op_ids are usually consecutive). A 10,000-entry batch adds one 80 kB row.
 */

/**
 * Records a batch's digests and drops the client's rows whose op_ids are all `retention`
 * or more below the ledger. Values are written in, so both statements travel with the
 * COMMIT in one round trip; hex through decode() reads the same whatever
 * `standard_conforming_strings` says.
 */
export function recordDigestsStatements(userId: string, clientId: string, record: EntryDigests, ledger: number, retention: number): PreparableStatement[] {
  const { opIds } = record;
  const first = opIds[0]!;
  const last = opIds[opIds.length - 1]!;
  const horizon = ledger - retention;
  const where = 'recordDigestsStatements';
  const gaps = last - first + 1 !== opIds.length;
  const key = [literal(userId), literal(clientId)];
  const insert: PreparableStatement = {
    text: `INSERT INTO writepath_digests (user_id, client_id, first_op_id, last_op_id, op_ids, digests) VALUES ($1, $2, $3, $4, $5, $6)`,
    types: ['text', 'text', 'bigint', 'bigint', 'bytea', 'bytea'],
    args: [...key, safeInteger(first, where), safeInteger(last, where), gaps ? hexBytea(packOpIds(opIds)) : 'NULL', hexBytea(record.digests)],
  };
  if (horizon <= 0) return [insert];
  const prune: PreparableStatement = {
    text: `DELETE FROM writepath_digests WHERE user_id = $1 AND client_id = $2 AND last_op_id <= $3`,
    types: ['text', 'text', 'bigint'],
    args: [...key, safeInteger(horizon, where)],
  };
  return [insert, prune];
}

/** The client's rows that hold an op_id in from..to, in the order they were written. */
export async function readDigestRows(client: pg.ClientBase, userId: string, clientId: string, from: number, to: number): Promise<EntryDigests[]> {
  const result = await client.query<{ first_op_id: string; last_op_id: string; op_ids: Buffer | null; digests: Buffer }>(
    `SELECT first_op_id, last_op_id, op_ids, digests FROM writepath_digests
     WHERE user_id = $1 AND client_id = $2 AND last_op_id >= $3 AND first_op_id <= $4 ORDER BY id`,
    [userId, clientId, from, to],
  );
  return result.rows.map((row) => {
    const count = row.digests.length / DIGEST_BYTES;
    const first = Number(row.first_op_id);
    const opIds = row.op_ids ? unpackOpIds(row.op_ids) : Array.from({ length: count }, (_, i) => first + i);
    if (opIds.length !== count || opIds[opIds.length - 1] !== Number(row.last_op_id)) {
      throw new Error(`writepath_digests: a row of ${clientId} holds ${count} digests for ${opIds.length} op_ids`);
    }
    return { opIds, digests: row.digests };
  });
}

function hexBytea(bytes: Uint8Array): string {
  return `decode('${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}', 'hex')`;
}

/** op_ids as big-endian 64-bit integers (safe integers, so never negative here). */
function packOpIds(opIds: number[]): Buffer {
  const out = Buffer.alloc(opIds.length * 8);
  opIds.forEach((opId, i) => {
    out.writeUInt32BE(Math.floor(opId / 2 ** 32), i * 8);
    out.writeUInt32BE(opId >>> 0, i * 8 + 4);
  });
  return out;
}

function unpackOpIds(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 8 <= bytes.length; at += 8) out.push(bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4));
  return out;
}
