import pg from 'pg';
import { readFileSync, readdirSync } from 'node:fs';
import { openBenchDatabase } from './database.ts';
import { createSchema } from './data.ts';
import { ensureServerTables } from '../src/postgres/server-tables.ts';
const scripts: string[] = JSON.parse(readFileSync('/tmp/exp/scripts.json', 'utf8'));
const db = await openBenchDatabase('harness');
await createSchema(db.url);
const pool = new pg.Pool({ connectionString: db.url, max: 16 });
await ensureServerTables(pool);
function cpuOf(pid: string) { try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return (Number(x[11]) + Number(x[12])) / 100; } catch { return 0; } }
function pgCpu() { let s = 0; for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) { let c; try { c = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; } if (c.startsWith('postgres')) s += cpuOf(pid); } return s; }
const hex = 'ab'.repeat(80);
const stripSp = (s: string) => s.replace(/^SAVEPOINT wp_fast;\n/, '').replace(/;\nRELEASE SAVEPOINT wp_fast$/, '');
type V = (c: pg.PoolClient, cid: string, op: number, script: string) => Promise<unknown>;
const lock = (cid: string) => `INSERT INTO writepath_ledger (user_id, client_id, last_op_id) VALUES ('u', '${cid}', 0) ON CONFLICT (user_id, client_id) DO UPDATE SET last_op_id = writepath_ledger.last_op_id RETURNING last_op_id`;
const fin = (cid: string, op: number) => `UPDATE writepath_ledger SET last_op_id = ${op}, updated_at = now() WHERE user_id = 'u' AND client_id = '${cid}';\nINSERT INTO writepath_digests (user_id, client_id, first_op_id, last_op_id, op_ids, digests) VALUES ('u', '${cid}', ${op - 9}, ${op}, NULL, decode('${hex}', 'hex'))`;
const guard = (cid: string, e: number) => `WITH found AS MATERIALIZED (SELECT (SELECT last_op_id FROM writepath_ledger WHERE user_id = 'u' AND client_id = '${cid}' FOR UPDATE) AS last_op_id) SELECT CASE WHEN last_op_id = ${e} THEN 0 ELSE ('writepath: the ledger is at ' || coalesce(last_op_id::text, 'nothing'))::int END FROM found`;
const variants: Record<string, V> = {
  v0_3rt: async (c, cid, op, s) => { await c.query(`BEGIN;\n${lock(cid)}`); await c.query(s); await c.query(`${fin(cid, op)};\nCOMMIT`); },
  v1_1rt: (c, cid, op, s) => c.query(`BEGIN;\n${lock(cid)};\n${s};\n${fin(cid, op)};\nCOMMIT`),
  v2_nosp: (c, cid, op, s) => c.query(`BEGIN;\n${lock(cid)};\n${stripSp(s)};\n${fin(cid, op)};\nCOMMIT`),
  v3_oneledger: (c, cid, op, s) => c.query(`BEGIN;\nSELECT last_op_id FROM writepath_ledger WHERE user_id='u' AND client_id='${cid}' FOR UPDATE;\n${stripSp(s)};\n${fin(cid, op)};\nCOMMIT`),
  v4_nodigest: (c, cid, op, s) => c.query(`BEGIN;\n${stripSp(s)};\nUPDATE writepath_ledger SET last_op_id = ${op}, updated_at = now() WHERE user_id = 'u' AND client_id = '${cid}';\nCOMMIT`),
  v5_mergeonly: (c, cid, op, s) => c.query(`${stripSp(s)}`),
  v7_prepared: async (c, cid, op, s) => { for (const st of stripSp(s).split(';\n')) { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); await c.query({ name: 'p' + hash(text), text, values: [m[1]] }); } },
  v8_unnamed: async (c, cid, op, s) => { for (const st of stripSp(s).split(';\n')) { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); await c.query({ text, values: [m[1]] }); } },
  v9_exec1rt: (c, cid, op, s) => {
    const prepared = ((c as any).__prep ??= new Map<string, string>());
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wp_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', lock(cid), ...body, fin(cid, op), 'COMMIT'].join(';\n'));
  },
  v10_exec_nolock: (c, cid, op, s) => {
    const prepared = ((c as any).__prep ??= new Map<string, string>());
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wp_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', `SELECT last_op_id FROM writepath_ledger WHERE user_id='u' AND client_id='${cid}' FOR UPDATE`, ...body, fin(cid, op), 'COMMIT'].join(';\n'));
  },
  v11_now: (c, cid, op, s) => {
    const prepared = ((c as any).__prep ??= new Map<string, string>());
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wp_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', guard(cid, op - 10), ...body, fin(cid, op), 'COMMIT'].join(';\n'));
  },
  v12_allprep: async (c, cid, op, s) => {
    const prepared = ((c as any).__prep2 ??= new Map<string, string>());
    if (!(c as any).__p3) { (c as any).__p3 = true; await c.query(`PREPARE g3 (text, text, bigint) AS WITH found AS MATERIALIZED (SELECT (SELECT last_op_id FROM writepath_ledger WHERE user_id = $1 AND client_id = $2 FOR UPDATE) AS last_op_id) SELECT CASE WHEN last_op_id = $3 THEN 0 ELSE ('writepath: the ledger is at ' || coalesce(last_op_id::text, 'nothing'))::int END FROM found; PREPARE u3 (text, text, bigint) AS UPDATE writepath_ledger SET last_op_id = $3, updated_at = now() WHERE user_id = $1 AND client_id = $2; PREPARE d3 (text, text, bigint, bigint, bytea) AS INSERT INTO writepath_digests (user_id, client_id, first_op_id, last_op_id, op_ids, digests) VALUES ($1, $2, $3, $4, NULL, $5)`); }
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wq_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', `EXECUTE g3('u', '${cid}', ${op - 10})`, ...body, `EXECUTE u3('u', '${cid}', ${op})`, `EXECUTE d3('u', '${cid}', ${op - 9}, ${op}, decode('${hex}', 'hex'))`, 'COMMIT'].join(';\n'));
  },
  v13_nodigest: (c, cid, op, s) => {
    const prepared = ((c as any).__prep ??= new Map<string, string>());
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wp_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', guard(cid, op - 10), ...body, `UPDATE writepath_ledger SET last_op_id = ${op}, updated_at = now() WHERE user_id = 'u' AND client_id = '${cid}'`, 'COMMIT'].join(';\n'));
  },
  v14_async: (c, cid, op, s) => {
    const prepared = ((c as any).__prep ??= new Map<string, string>());
    const pre: string[] = [];
    const body = stripSp(s).split(';\n').map((st) => { const m = /\$wp\$([\s\S]*?)\$wp\$::jsonb/.exec(st)!; const text = st.replace(m[0], '$1::jsonb'); let name = prepared.get(text); if (!name) { name = 'wp_' + prepared.size; prepared.set(text, name); pre.push(`PREPARE ${name} (jsonb) AS ${text}`); } return `EXECUTE ${name}($wp$${m[1]}$wp$)`; });
    return c.query([...pre, 'BEGIN', 'SET LOCAL synchronous_commit = off', guard(cid, op - 10), ...body, fin(cid, op), 'COMMIT'].join(';\n'));
  },
  v6_emptytx: (c, cid, op, s) => c.query(`BEGIN;\nUPDATE writepath_ledger SET last_op_id = ${op}, updated_at = now() WHERE user_id = 'u' AND client_id = '${cid}';\nCOMMIT`),
};
function hash(t: string) { let h = 0; for (let i = 0; i < t.length; i++) h = (h * 31 + t.charCodeAt(i)) | 0; return (h >>> 0).toString(36); }
const only = process.argv.slice(2);
for (const [name, v] of Object.entries(variants)) {
  if (only.length && !only.includes(name)) continue;
  let n = 0; let errs = 0; const end = performance.now() + 4000; const cpu0 = pgCpu(); const me0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: 16 }, async (_, k) => {
    const c = await pool.connect(); const cid = `c${k}-${name}`; let op = 10;
    await c.query(lock(cid)); await c.query(`UPDATE writepath_ledger SET last_op_id = 0 WHERE client_id = '${cid}'`);
    for (let i = k; performance.now() < end; i += 16) { try { await v(c, cid, op, scripts[i % scripts.length]!); } catch { errs++; await c.query('ROLLBACK'); await c.query(`UPDATE writepath_ledger SET last_op_id = ${op} WHERE client_id = '${cid}'`); } op += 10; n++; }
    c.release();
  }));
  const secs = (performance.now() - t0) / 1000; const me = process.cpuUsage(me0);
  console.log(name.padEnd(14), `${(n / secs).toFixed(0)}/s`, `pg ${((pgCpu() - cpu0) * 1000 / n).toFixed(3)} ms/batch`, `errs ${errs}`, `client ${((me.user + me.system) / 1000 / n).toFixed(3)} ms/batch`);
}
await pool.end(); await db.close();
