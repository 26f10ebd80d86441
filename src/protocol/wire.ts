import { badRequest } from '../core/errors.ts';

/**
 * The batch request of PROTOCOL.md section 1. Only what makes the whole request unusable
 * is checked here (and answered 400); everything about a single entry is checked later,
 * where a bad entry becomes a rejection that does not block the client's queue.
 */
export interface BatchRequest {
  clientId: string;
  entries: RawEntry[];
  /**
   * Whether the op_ids are the client's queue positions, deduplicated through the ledger
   * (the default). False for requests that carry none, the demo routes of PROTOCOL.md
   * section 7: their op_ids are positions in the request, the ledger is neither read nor
   * moved, and a retried request is applied again.
   */
  ledger?: boolean;
}

/** One upload-queue entry as it came, with the fields the engine needs to order it. */
export interface RawEntry {
  opId: number;
  /** Absent (not null) when the entry has no transaction id. */
  txId: number | undefined;
  /** The entry object as sent; validated into an operation by the engine. */
  fields: Record<string, unknown>;
}

/** SDK client ids are uuids; this leaves room for any id an app makes itself. */
const MAX_CLIENT_ID_LENGTH = 200;

/** Parses a decoded JSON body into a batch request, or throws a 400 WritepathError. */
export function parseBatchRequest(body: unknown): BatchRequest {
  if (!isObject(body)) throw badRequest('invalid_request', 'the body must be a JSON object with client_id and batch');
  const clientId = body.client_id;
  if (typeof clientId !== 'string' || clientId.length === 0) {
    throw badRequest('invalid_request', 'client_id must be a non-empty string (the SDK\'s db.getClientId())');
  }
  // The ledger keys on it: Postgres text cannot hold NUL, and no SDK makes such an id.
  if (clientId.length > MAX_CLIENT_ID_LENGTH || clientId.includes('\0')) {
    throw badRequest('invalid_request', `client_id must be at most ${MAX_CLIENT_ID_LENGTH} characters, without NUL`);
  }
  if (!Array.isArray(body.batch)) throw badRequest('invalid_request', 'batch must be an array of upload-queue entries');
  const entries: RawEntry[] = [];
  let previous = -Infinity;
  body.batch.forEach((entry: unknown, index: number) => {
    if (!isObject(entry)) throw badRequest('invalid_request', `batch[${index}] must be an object`);
    const opId = entry.op_id;
    // Positive, as the SDKs' are: the ledger of a new client starts at 0, so an op_id of 0
    // or below would pass for already processed and be dropped without a word.
    if (typeof opId !== 'number' || !Number.isSafeInteger(opId) || opId < 1) {
      throw badRequest('invalid_request', `batch[${index}].op_id must be a positive safe integer`);
    }
    if (opId <= previous) {
      throw badRequest('invalid_request', `batch[${index}].op_id ${opId} does not follow ${previous}: op_ids must be strictly increasing`);
    }
    previous = opId;
    const txId = entry.tx_id;
    entries.push({ opId, txId: typeof txId === 'number' && Number.isSafeInteger(txId) ? txId : undefined, fields: entry });
  });
  return { clientId, entries };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
