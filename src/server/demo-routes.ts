import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.ts';
import { isObject, parseBatchRequest, type BatchRequest, type RawEntry } from '../protocol/wire.ts';
import type { BatchEndpoint } from './batch-route.ts';
import { ROUTE_PATHS } from './route-paths.ts';

/**
 * The requests of PowerSync's demo connectors (PROTOCOL.md section 7), enabled by
 * `compat.demo_routes`:
 *
 * - `POST /api/data` with `{"batch": [{op, table, id, data}]}` and no `client_id`;
 * - `PUT`, `PATCH`, `DELETE /api/data` with `{table, data: {id, …}}`, one operation each.
 *
 * They carry no op_ids, so they bypass the ledger: every request is applied as it comes,
 * a retried one again (no exactly-once). Everything else is the batch endpoint's: the same
 * checks in the same order, the same rejections, the same 200 body. Decisions:
 *
 * - A request is one client transaction, all or nothing, as the demo backend's
 *   BEGIN … COMMIT around a request was; its entries carry `tx_id` 1.
 * - op_ids are the entries' 1-based positions in the request, so a rejection names its
 *   entry; `last_op_id` is 0 (no ledger moved).
 * - The client id is the empty string, in the response and in `writepath_rejections`: a
 *   real client's is never empty, so demo rows cannot be mistaken for a client's.
 * - `table` names the table (`type`, the SDK's own name for it, is accepted too); the row
 *   id is `id`, else `data.id`.
 */
export const DEMO_CLIENT_ID = '';
const DEMO_TX_ID = 1;

/** `POST /api/data` with demo routes on: a body without `client_id` is a demo batch. */
export function parseBatchOrDemo(body: unknown): BatchRequest {
  return isObject(body) && body.client_id === undefined ? parseDemoBatch(body) : parseBatchRequest(body);
}

export function parseDemoBatch(body: unknown): BatchRequest {
  if (!isObject(body) || !Array.isArray(body.batch)) {
    throw badRequest('invalid_request', 'the body must be a JSON object with batch, an array of {op, table, id, data} (or with client_id, for the batch format of PROTOCOL.md section 1)');
  }
  const entries = body.batch.map((entry: unknown, index: number) => {
    if (!isObject(entry)) throw badRequest('invalid_request', `batch[${index}] must be an object`);
    return demoEntry(index + 1, entry, entry.op);
  });
  return { clientId: DEMO_CLIENT_ID, entries, ledger: false };
}

/** `PUT` / `PATCH` / `DELETE /api/data` with `{table, data: {id, …}}`. */
export function parseDemoOperation(op: 'PUT' | 'PATCH' | 'DELETE', body: unknown): BatchRequest {
  if (!isObject(body)) throw badRequest('invalid_request', 'the body must be a JSON object {table, data: {id, …}}');
  return { clientId: DEMO_CLIENT_ID, entries: [demoEntry(1, body, op)], ledger: false };
}

/** Registers the single-operation routes; the demo `POST` goes through the batch route with `parseBatchOrDemo`. */
export function registerDemoRoutes(app: FastifyInstance, endpoint: BatchEndpoint): void {
  for (const op of ['PUT', 'PATCH', 'DELETE'] as const) {
    app.route({ method: op, url: ROUTE_PATHS.batch, ...endpoint((body) => parseDemoOperation(op, body)) });
  }
}

/** A demo entry in the engine's terms; whatever is wrong with it is left for the engine to reject. */
function demoEntry(position: number, entry: Record<string, unknown>, op: unknown): RawEntry {
  const data = entry.data;
  const fields: Record<string, unknown> = {
    op,
    type: entry.table ?? entry.type,
    id: entry.id ?? (isObject(data) ? data.id : undefined),
    data,
  };
  if (entry.old !== undefined) fields.old = entry.old;
  if (entry.metadata !== undefined) fields.metadata = entry.metadata;
  return { opId: position, txId: DEMO_TX_ID, fields };
}
