import type { FastifyInstance } from 'fastify';
import type { AdminStore } from '../core/admin-store.ts';
import { badRequest, WritepathError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import { exactPathReason } from '../core/table-facts.ts';
import { REJECTION_CODES } from '../protocol/response.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { adminGuard } from './admin-auth.ts';
import { DASHBOARD_CSP, renderDashboard, type DashboardData, type TableSummary } from './dashboard.ts';
import type { WritepathMetrics } from './metrics.ts';
import { ADMIN_PATHS } from './route-paths.ts';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const DASHBOARD_REJECTIONS = 20;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface AdminRouteOptions {
  /** `admin.token`; absent, no route is registered and every path answers 404. */
  token: string | undefined;
  store: Store;
  rules: TableRules;
  metrics: WritepathMetrics;
}

/**
 * `GET /metrics`, `/admin/rejections`, `/admin/clients`, `/admin/stats` and `/dashboard`,
 * all behind `admin.token` (see admin-auth.ts). The admin queries are an optional Store
 * capability: without it those routes answer 501, and the dashboard says so.
 */
export function registerAdminRoutes(app: FastifyInstance, options: AdminRouteOptions): void {
  const { token, store, rules, metrics } = options;
  if (!token) return;
  const bearer = adminGuard(token, { basic: false });

  app.get(ADMIN_PATHS.metrics, { onRequest: bearer }, async (_request, reply) => {
    reply.header('content-type', metrics.contentType).header('cache-control', 'no-store');
    return metrics.text();
  });

  app.get(ADMIN_PATHS.rejections, { onRequest: bearer }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const code = text(query, 'code');
    if (code !== undefined && !(REJECTION_CODES as readonly string[]).includes(code)) {
      throw badRequest('invalid_code', `code must be one of ${REJECTION_CODES.join(', ')}`);
    }
    const filter = { userId: text(query, 'user_id'), clientId: text(query, 'client_id'), code, limit: limit(query), before: text(query, 'before') };
    return adminOf(store).rejections(filter);
  });

  app.get(ADMIN_PATHS.clients, { onRequest: bearer }, async (request) => {
    const query = request.query as Record<string, unknown>;
    return { clients: await adminOf(store).clients({ userId: text(query, 'user_id'), limit: limit(query) }) };
  });

  app.get(ADMIN_PATHS.stats, { onRequest: bearer }, async () => {
    const admin = adminOf(store);
    const until = new Date();
    const since = new Date(until.getTime() - DAY_MS);
    const { startedAt, ...counters } = await metrics.snapshot();
    return {
      rejections_last_24h: { since: since.toISOString(), until: until.toISOString(), by_code: await admin.rejectionCounts(since) },
      tables: tableSummaries(store, rules),
      since_start: { started_at: startedAt.toISOString(), ...counters },
    };
  });

  app.get(ADMIN_PATHS.dashboard, { onRequest: adminGuard(token, { basic: true }) }, async (_request, reply) => {
    const html = renderDashboard({ now: new Date(), counters: await metrics.snapshot(), rejections: await recentRejections(store), tables: tableSummaries(store, rules) });
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', DASHBOARD_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    return html;
  });
}

/**
 * What the dashboard lists as recent rejections. The counters come from memory, so the page
 * still shows them while the database is down: that is when an operator looks.
 */
async function recentRejections(store: Store): Promise<DashboardData['rejections']> {
  if (!store.admin) return { unavailable: "This database's Store does not offer the admin queries yet." };
  try {
    return (await store.admin.rejections({ limit: DASHBOARD_REJECTIONS })).rejections;
  } catch (error) {
    return { unavailable: `The rejections could not be read: ${error instanceof WritepathError ? error.message : 'unexpected error'}.` };
  }
}

/** The configured tables and the path each takes when nothing in a batch forces the exact one. */
function tableSummaries(store: Store, rules: TableRules): TableSummary[] {
  return rules.all().map((rule) => {
    const table = store.findTable(rule.dbTable);
    const facts = table ? store.admin?.tableFacts?.(table) : undefined;
    const reason = exactPathReason(rule, facts, []);
    return { name: rule.clientName, table: rule.dbTable, path: reason ? 'exact' : 'fast', ...(reason && { exact_reason: reason }) };
  });
}

/** The Store's admin queries; 501 when it has none. */
function adminOf(store: Store): AdminStore {
  if (store.admin) return store.admin;
  throw new WritepathError({
    code: 'not_implemented',
    status: 501,
    message: "this database's Store does not offer the admin queries (rejections, clients, stats) yet",
  });
}

/** A query parameter given once; empty counts as absent. */
function text(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest('invalid_query', `${name} must be given once`);
  return value;
}

/** `limit`: a positive integer, capped at MAX_LIMIT so one request cannot read the whole table. */
function limit(query: Record<string, unknown>): number {
  const value = text(query, 'limit');
  if (value === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw badRequest('invalid_limit', `limit must be a positive integer (at most ${MAX_LIMIT} are returned)`);
  return Math.min(Number(value), MAX_LIMIT);
}
