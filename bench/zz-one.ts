import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { mkdtempSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
import { openBenchDatabase } from './database.ts';
import { createSchema, mixedBatch, resetTable } from './data.ts';
import { startServer, preparePost } from './server.ts';
const db = await openBenchDatabase('one');
const existing = await createSchema(db.url);
process.env.WP_TRACE = '1';
const s = await startServer(db.url, mkdtempSync(join(tmpdir(), 'one-')));
const sql = new pg.Client({ connectionString: db.url }); await sql.connect();
for (let r = 0; r < 4; r++) {
  const batch = mixedBatch(10000, 1000 + r, existing);
  const body = JSON.stringify({ client_id: randomUUID(), batch });
  await resetTable(sql);
  const tok = await s.token('x');
  process.stderr.write(`---- run ${r}\n`);
  const p = await preparePost(s.url, tok, body); const t0 = performance.now(); await p.send(); process.stderr.write(`client total ${(performance.now() - t0).toFixed(1)}\n`);
}
await sql.end(); await s.stop(); await db.close();
