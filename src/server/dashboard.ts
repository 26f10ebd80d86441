import { createHash } from 'node:crypto';
import type { StoredRejection } from '../core/admin-store.ts';
import type { MetricsSnapshot } from './metrics.ts';

/** A configured table as `/admin/stats` and the dashboard describe it. */
export interface TableSummary {
  name: string;
  table: string;
  path: 'fast' | 'exact';
  /** Why the table always takes the exact path; absent on the fast path. */
  exact_reason?: string;
}

export interface DashboardData {
  now: Date;
  counters: MetricsSnapshot;
  /** Newest first; or why there are none to show. */
  rejections: StoredRejection[] | { unavailable: string };
  tables: TableSummary[];
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#777}
section{display:inline-block;vertical-align:top;margin-right:2rem}`;

/**
 * The dashboard's policy: nothing but its one inline style block (allowed by its hash), no
 * script, no frame, no form, no other origin.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard page. Every value is escaped: rejection messages and ids are the clients' words. */
export function renderDashboard(data: DashboardData): string {
  const { counters } = data;
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>writepath</title><style>${raw(STYLE)}</style></head>
<body>
<h1>writepath</h1>
<p class="muted">Counters since ${counters.startedAt.toISOString()} (this server instance); page made at ${data.now.toISOString()}.</p>
${counterTable('Batches by HTTP status', 'status', counters.batches)}
${counterTable('Entries by outcome', 'outcome', counters.entries)}
${counterTable('Rejected entries by code', 'code', counters.rejected)}
${counterTable('503 answers by cause', 'code', counters.unavailable)}
${counterTable('Client databases rewound', 'since start', { rewinds: counters.rewinds })}
<h2>Configured tables</h2>
${tablesTable(data.tables)}
<h2>Recent rejections</h2>
${rejectionsTable(data.rejections)}
</body></html>
`;
  return page.text;
}

function counterTable(title: string, label: string, values: Record<string, number>) {
  const rows = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  return html`<section><h2>${title}</h2>${
    rows.length === 0
      ? html`<p class="muted">none yet</p>`
      : html`<table><tr><th>${label}</th><th>count</th></tr>${rows.map(([key, value]) => html`<tr><td>${key}</td><td class="n">${value}</td></tr>`)}</table>`
  }</section>`;
}

function tablesTable(tables: TableSummary[]) {
  if (tables.length === 0) return html`<p class="muted">No table is configured: every entry is rejected as unknown_table.</p>`;
  return html`<table><tr><th>client name</th><th>database table</th><th>path</th><th>why exact</th></tr>${tables.map(
    (t) => html`<tr><td>${t.name}</td><td>${t.table}</td><td>${t.path}</td><td>${t.exact_reason ?? ''}</td></tr>`,
  )}</table>`;
}

function rejectionsTable(rejections: DashboardData['rejections']) {
  if (!Array.isArray(rejections)) return html`<p class="muted">${rejections.unavailable}</p>`;
  if (rejections.length === 0) return html`<p class="muted">None stored.</p>`;
  return html`<table><tr><th>time</th><th>user</th><th>client</th><th>op_id</th><th>op</th><th>type</th><th>row id</th><th>code</th><th>column</th><th>message</th></tr>${rejections.map(
    (r) =>
      html`<tr><td>${r.created_at}</td><td>${r.user_id}</td><td>${r.client_id}</td><td class="n">${r.op_id}</td><td>${r.op}</td><td>${r.type}</td><td>${r.row_id}</td><td>${r.code}</td><td>${r.column_name}</td><td>${r.message}</td></tr>`,
  )}</table>`;
}

/** Markup made by `html`, or trusted text: inserted as it is. */
class SafeHtml {
  constructor(readonly text: string) {}
}

const raw = (text: string) => new SafeHtml(text);

/** A template whose every value is escaped, unless it is markup made by `html` itself. */
function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, index) => {
    out += render(value) + strings[index + 1]!;
  });
  return new SafeHtml(out);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined) return '';
  return escapeHtml(String(value));
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
