import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../core/admin-store.ts';
import { REJECTION_CODES, type BatchResponse } from '../protocol/response.ts';

const OUTCOMES = ['applied', 'duplicate', 'skipped', 'rejected'] as const;
const KNOWN_REJECTION_CODES: ReadonlySet<string> = new Set(REJECTION_CODES);
// Error codes are the server's own words, but a label must stay bounded whatever comes.
const ERROR_CODE = /^[a-z][a-z0-9_]{0,39}$/;

/** What the dashboard shows: every counter since start, by label value. */
export interface MetricsSnapshot {
  startedAt: Date;
  batches: Record<string, number>;
  entries: Record<string, number>;
  rejected: Record<string, number>;
  unavailable: Record<string, number>;
  rewinds: number;
}

/**
 * The series of `GET /metrics`, in a prom-client Registry of their own: one per app
 * instance, so that several instances in one process (tests, library mode) never clash
 * on a name and each counts only its own batches. Labels carry only bounded values (HTTP
 * statuses, outcomes, rejection and error codes), never users, clients or client tables.
 *
 * @example
 * const metrics = new WritepathMetrics({ pool: () => store.poolStats() });
 * detector.onRewind = metrics.onRewind; // wherever rewinds are reported
 * reply.type(metrics.contentType).send(await metrics.text());
 */
export class WritepathMetrics {
  readonly registry = new Registry();
  readonly startedAt = new Date();
  readonly contentType = this.registry.contentType;
  private readonly batches = new Counter({ name: 'writepath_batches_total', help: 'Batch requests answered, by HTTP status.', labelNames: ['status'] as const, registers: [this.registry] });
  private readonly entries = new Counter({ name: 'writepath_entries_total', help: 'Entries of answered batches, by outcome (applied, duplicate, skipped, rejected).', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly rejected = new Counter({ name: 'writepath_rejected_entries_total', help: 'Rejected entries, by rejection code.', labelNames: ['code'] as const, registers: [this.registry] });
  private readonly duration = new Histogram({ name: 'writepath_batch_duration_seconds', help: 'Time from a batch request to its answer.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  private readonly inFlight = new Gauge({ name: 'writepath_batches_in_flight', help: 'Batches being read or processed now.', registers: [this.registry] });
  private readonly bodyBytes = new Histogram({ name: 'writepath_request_body_bytes', help: 'Batch request bodies, in bytes after gzip is undone.', buckets: exponentialBuckets(1024, 4, 10), registers: [this.registry] });
  private readonly unavailable = new Counter({ name: 'writepath_unavailable_total', help: '503 answers, by cause code.', labelNames: ['code'] as const, registers: [this.registry] });
  private readonly rewinds = new Counter({ name: 'writepath_rewinds_total', help: 'Batches with rewound entries (a client database restored from a backup): entries at or below the ledger with new content.', registers: [this.registry] });

  constructor(options: { pool?: () => PoolStats | undefined } = {}) {
    // Every outcome present from the start: a rate over a series that appears late misses its first step.
    for (const outcome of OUTCOMES) this.entries.inc({ outcome }, 0);
    const { pool } = options;
    if (pool) {
      const gauge = (name: string, help: string, pick: (stats: PoolStats) => number) =>
        new Gauge({ name, help, registers: [this.registry], collect() { const stats = pool(); if (stats) this.set(pick(stats)); } });
      gauge('writepath_db_pool_connections', 'Open connections of the database pool.', (s) => s.total);
      gauge('writepath_db_pool_idle_connections', 'Idle connections of the database pool.', (s) => s.idle);
      gauge('writepath_db_pool_waiting_requests', 'Requests waiting for a database connection.', (s) => s.waiting);
    }
  }

  /**
   * Counts one rewind, in the shape of a rewind callback: whatever the detector passes is
   * ignored (it names users and clients, which must not become labels). Bound: pass it on.
   */
  readonly onRewind = (..._details: unknown[]): void => {
    this.rewinds.inc();
  };

  /** A batch began; call the returned function once when its handler is done. */
  batchStarted(): () => void {
    this.inFlight.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight.dec();
    };
  }

  /** A batch answered, whatever the status. */
  batchAnswered(status: number, seconds: number): void {
    this.batches.inc({ status: String(status) });
    this.duration.observe(seconds);
  }

  bodyRead(bytes: number): void {
    this.bodyBytes.observe(bytes);
  }

  /** The entries of a processed batch, by outcome and rejection code. */
  batchProcessed(result: BatchResponse): void {
    const counts: Record<(typeof OUTCOMES)[number], number> = {
      applied: result.applied,
      duplicate: result.duplicates,
      skipped: result.skipped,
      rejected: result.rejected.length,
    };
    for (const outcome of OUTCOMES) if (counts[outcome] > 0) this.entries.inc({ outcome }, counts[outcome]);
    for (const entry of result.rejected) this.rejected.inc({ code: KNOWN_REJECTION_CODES.has(entry.code) ? entry.code : 'other' });
  }

  /** A 503, by the code of its error body. */
  answeredUnavailable(code: string): void {
    this.unavailable.inc({ code: ERROR_CODE.test(code) ? code : 'other' });
  }

  /** The Prometheus text: this instance's series, then the process's. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }

  async snapshot(): Promise<MetricsSnapshot> {
    return {
      startedAt: this.startedAt,
      batches: await byLabel(this.batches, 'status'),
      entries: await byLabel(this.entries, 'outcome'),
      rejected: await byLabel(this.rejected, 'code'),
      unavailable: await byLabel(this.unavailable, 'code'),
      rewinds: (await this.rewinds.get()).values[0]?.value ?? 0,
    };
  }
}

async function byLabel<L extends string>(counter: Counter<L>, label: L): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await counter.get()).values) out[String(labels[label])] = value;
  return out;
}

let processMetrics: Registry | undefined;

/**
 * Node's process metrics (CPU, memory, event loop, GC), once per process: they describe
 * the process, not an app instance, and each collection started installs observers that
 * are never removed.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}
