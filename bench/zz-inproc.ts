import { openBenchDatabase } from './database.ts';
import { createSchema, mixedBatch } from './data.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import { processBatch } from '../src/core/process-batch.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { configSchema } from '../src/config/schema.ts';
import { parseBatchRequest } from '../src/protocol/wire.ts';
const db = await openBenchDatabase('inproc');
const existing = await createSchema(db.url);
const store = await PgStore.open({ url: db.url });
const rules = new TableRules(configSchema.parse({ tables: { items: {} } }).tables);
const N = Number(process.argv[2] ?? 3000);
const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ client_id: 'c' + (i % 16), batch: mixedBatch(10, 77 + i, existing, 1 + Math.floor(i / 16) * 10) }));
// warm
for (let i = 0; i < 300; i++) await processBatch({ store, rules }, parseBatchRequest(JSON.parse(bodies[i]!)), { userId: 'u', claims: {} });
const c0 = process.cpuUsage(); const t0 = performance.now();
// 16 concurrent "clients"
let next = 300;
await Promise.all(Array.from({ length: 16 }, async () => { while (next < N) { const i = next++; await processBatch({ store, rules }, parseBatchRequest(JSON.parse(bodies[i]!)), { userId: 'u', claims: {} }); } }));
const c = process.cpuUsage(c0); const n = N - 300;
console.log(`${(n / ((performance.now() - t0) / 1000)).toFixed(0)}/s, node CPU ${((c.user + c.system) / 1000 / n).toFixed(3)} ms/batch (user ${(c.user / 1000 / n).toFixed(3)}, sys ${(c.system / 1000 / n).toFixed(3)})`);
await store.close(); await db.close();
