/** The 200 body of PROTOCOL.md section 3. */
export interface BatchResponse {
  client_id: string;
  last_op_id: number;
  applied: number;
  duplicates: number;
  skipped: number;
  rejected: RejectedEntry[];
}

export const REJECTION_CODES = [
  'malformed_operation',
  'unknown_table',
  'unknown_column',
  'invalid_value',
  'constraint_violation',
  'forbidden',
  'conflict',
  'validation_failed',
  'transaction_rejected',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

/** Optional fields are absent, never null, when they do not apply. */
export interface RejectedEntry {
  op_id: number;
  tx_id?: number;
  op?: string;
  type?: string;
  id?: string;
  code: RejectionCode;
  message: string;
  column?: string;
  current?: Record<string, unknown>;
  cause_op_id?: number;
}

/** The body of every error status (400, 401, 404, 413, 415, 429, 500, 503). */
export interface ErrorResponse {
  error: { code: string; message: string };
}
