import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { signDevToken } from '../cli/token.ts';
import { configSchema, type WritepathConfig } from '../config/schema.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../postgres/embedded.ts';
import { exampleSchemaSql, exampleTables } from './example-schema.ts';

export interface Playground {
  config: WritepathConfig;
  database: EmbeddedServer;
  token: string;
  /** What to print once the server listens: the token and a curl line that posts a batch. */
  instructions(serverUrl: string): string;
}

const PLAYGROUND_USER = 'playground-user';

/**
 * The local playground of PROTOCOL.md section 5: an embedded Postgres (data kept so rows
 * survive a restart, see defaultDataDir), the to-do example schema, and a
 * signing secret made fresh at every start, so no token outlives the process.
 */
export async function startPlayground(env: Record<string, string | undefined>): Promise<Playground> {
  const dataDir = resolve(env.WRITEPATH_PLAYGROUND_DIR ?? defaultDataDir());
  await mkdir(dataDir, { recursive: true });
  const database = await startEmbeddedPostgres({ dataDir });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(exampleSchemaSql);
  } finally {
    await client.end();
  }
  const secret = randomBytes(32).toString('base64url');
  const config = configSchema.parse({
    database: { url: database.url },
    server: { port: env.PORT ?? 8080 },
    auth: { jwt: { secret } },
    tables: exampleTables,
  });
  const token = await signDevToken({ secret, sub: PLAYGROUND_USER, ttl: '12h' });
  return { config, database, token, instructions: (url) => instructions(url, token, database.url) };
}

/**
 * `.writepath/playground` in the working directory; as root, a folder under the system's
 * temporary directory instead, because Postgres then runs as a `postgres` user that cannot
 * enter a root-only home directory such as /root.
 */
function defaultDataDir(): string {
  if (process.getuid?.() !== 0) return '.writepath/playground';
  const tag = createHash('sha256').update(process.cwd()).digest('hex').slice(0, 12);
  return join(tmpdir(), `writepath-playground-${tag}`);
}

function instructions(url: string, token: string, databaseUrl: string): string {
  const body = JSON.stringify({
    client_id: randomUUID(),
    batch: [{ op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'groceries', owner_id: PLAYGROUND_USER } }],
  });
  return [
    '',
    `writepath playground on ${url} (embedded Postgres: ${databaseUrl})`,
    '',
    `token (user ${PLAYGROUND_USER}, valid 12 hours, signed with a secret made for this run):`,
    `  ${token}`,
    '',
    'try it:',
    `  curl -s ${url}/api/data -H 'Content-Type: application/json' -H 'Authorization: Bearer ${token}' -d '${body}'`,
    '',
    'then look:',
    `  psql ${databaseUrl} -c 'SELECT * FROM lists'`,
    '',
  ].join('\n');
}
