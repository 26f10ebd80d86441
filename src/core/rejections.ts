import type { RejectedEntry } from '../protocol/response.ts';
import type { RawEntry } from '../protocol/wire.ts';
import type { EntryProblem } from './operation.ts';
import type { RejectionRecord } from './store.ts';

/**
 * A rejected entry as the response lists it, and the entry as checked (after beforeApply),
 * whose data the rejections table keeps.
 */
export interface Rejection {
  response: RejectedEntry;
  entry: RawEntry;
}

/** Every entry of a rejected client transaction, into `list`: the cause with its code, the rest pointing at it. */
export function rejectInto(list: Rejection[], raw: RawEntry[], opId: number, problem: EntryProblem): void {
  const cause = raw.find((e) => e.opId === opId) ?? raw[0]!;
  for (const entry of raw) list.push({ entry, response: rejectedEntry(entry, cause, problem) });
}

/** How the response lists an entry of a rejected client transaction: the cause with its code, the rest pointing at it. */
function rejectedEntry(entry: RawEntry, cause: RawEntry, problem: EntryProblem): RejectedEntry {
  const f = entry.fields;
  const out: RejectedEntry = { op_id: entry.opId, code: 'transaction_rejected', message: '' };
  if (entry.txId !== undefined) out.tx_id = entry.txId;
  if (typeof f.op === 'string') out.op = f.op;
  if (typeof f.type === 'string') out.type = f.type;
  if (typeof f.id === 'string') out.id = f.id;
  if (entry !== cause) {
    out.message = `op ${cause.opId} of the same client transaction was rejected (${problem.code})`;
    out.cause_op_id = cause.opId;
    return out;
  }
  out.code = problem.code;
  out.message = problem.message;
  if (problem.column !== undefined) out.column = problem.column;
  if (problem.current !== undefined) out.current = problem.current;
  return out;
}

/** A row of `writepath_rejections` for a rejection of (user, client). */
export function rejectionRecord({ response: r, entry }: Rejection, userId: string, clientId: string): RejectionRecord {
  const f = entry.fields;
  return {
    userId,
    clientId,
    opId: r.op_id,
    txId: r.tx_id,
    op: r.op,
    type: r.type,
    rowId: r.id,
    data: f.data ?? null,
    old: f.old ?? null,
    metadata: typeof f.metadata === 'string' ? f.metadata : undefined,
    code: r.code,
    columnName: r.column,
    message: r.message,
  };
}
