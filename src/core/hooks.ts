import type { BatchResponse, RejectionCode } from '../protocol/response.ts';
import type { OpKind } from './operation.ts';

/** An upload-queue entry as hooks see it: what the client sent. */
export interface EntryView {
  opId: number;
  txId?: number;
  op: OpKind;
  /** The table's name on the client. */
  type: string;
  id: string;
  data: Record<string, unknown>;
  old?: Record<string, unknown>;
  metadata?: string;
}

/** Who sends the batch. */
export interface HookContext {
  userId: string;
  claims: Record<string, unknown>;
}

/** What a handler may do inside the batch's database transaction. */
export interface HandlerContext extends HookContext {
  /** Runs SQL in the batch's transaction (parameters as $1, $2, …). */
  query<T extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Applies the entry as writepath would without the handler; resolves to the rows it changed. */
  apply(): Promise<number>;
}

/**
 * Runs instead of writepath's own statement for one table and op, inside the batch's
 * transaction; call `ctx.apply()` to also write the entry as usual. Throw a `Rejection` to
 * reject the entry's client transaction; any other error fails the batch (500, nothing applied).
 */
export type OperationHandler = (entry: EntryView, ctx: HandlerContext) => Promise<void>;

/** A validator: a function returning problems, or anything with zod's `safeParse`. */
export type Validator =
  | ((data: Record<string, unknown>, partial: boolean) => string[] | undefined | Promise<string[] | undefined>)
  | { safeParse(data: unknown): { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } } };

export interface TableHooks {
  /** Checks PUT data, and PATCH data (`partial`: changed columns only). */
  validate?: Validator;
  /** Per op, code that runs in the batch's transaction instead of (or around) the write. */
  handlers?: Partial<Record<OpKind, OperationHandler>>;
}

export interface Hooks {
  /**
   * Sees every new entry before anything else; returns it unchanged, a changed copy (e.g.
   * data filled in), or `{ reject }` to reject it (code `validation_failed` unless given).
   */
  beforeApply?: (entry: EntryView, ctx: HookContext) => BeforeApplyResult | Promise<BeforeApplyResult>;
  /** Per client table name. */
  tables?: Record<string, TableHooks>;
  /**
   * Called after the commit, before the response. For side effects that may be lost (a
   * notification); what must not be lost belongs in an outbox table written by a handler,
   * in the batch's own transaction. Errors are logged, never change the response.
   */
  afterCommit?: (result: BatchResponse, ctx: HookContext) => void | Promise<void>;
}

export type BeforeApplyResult = EntryView | void | { reject: string; code?: Extract<RejectionCode, 'validation_failed' | 'forbidden' | 'conflict'> };

/** Thrown by a handler to reject its entry's client transaction. */
export class Rejection extends Error {
  constructor(
    message: string,
    readonly code: Extract<RejectionCode, 'validation_failed' | 'forbidden' | 'conflict' | 'constraint_violation'> = 'validation_failed',
  ) {
    super(message);
    this.name = 'Rejection';
  }
}

/** Every problem a validator reports, as messages. */
export async function runValidator(validator: Validator, data: Record<string, unknown>, partial: boolean): Promise<string[]> {
  if (typeof validator === 'function') return (await validator(data, partial)) ?? [];
  const result = validator.safeParse(data);
  if (result.success) return [];
  return (result.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.') || 'data'}: ${issue.message}`);
}
