import type { FastifyServerOptions } from 'fastify';
import { SignJWT } from 'jose';
import { configSchema } from '../../src/config/schema.ts';
import { exampleSchemaSql } from '../../src/playground/example-schema.ts';
import { startServer } from '../../src/server/start.ts';
import { createTestDatabase, sql } from './pg.ts';

export const TEST_SECRET = 'test-secret-of-at-least-32-characters!!';

export interface TestServer {
  url: string;
  databaseUrl: string;
  token(sub: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real writepath server on 127.0.0.1 with a free port, on the database given or else a
 * fresh one made with `schemaSql` (default: the example schema). `config` is merged over
 * the defaults (lists/todos writable, HS256 with TEST_SECRET); `logger` is fastify's
 * (default: none).
 */
export async function startTestServer(
  options: { config?: Record<string, unknown>; databaseUrl?: string; schemaSql?: string; logger?: FastifyServerOptions['logger'] } = {},
): Promise<TestServer> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  if (!options.databaseUrl) await sql(databaseUrl, options.schemaSql ?? exampleSchemaSql);
  const config = configSchema.parse({
    database: { url: databaseUrl },
    auth: { jwt: { secret: TEST_SECRET } },
    tables: { lists: {}, todos: {} },
    ...options.config,
    server: { port: 0, ...(options.config?.server as object | undefined) },
  });
  const server = await startServer(config, { logger: options.logger });
  return {
    url: server.url,
    databaseUrl,
    token: (sub) => signTestToken(sub),
    close: () => server.close(),
  };
}

export async function signTestToken(sub: string, secret = TEST_SECRET): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
}

/** POSTs a batch as a PowerSync client would and returns status and parsed body. */
export async function postBatch(
  server: Pick<TestServer, 'url'>,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.url}/api/data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
