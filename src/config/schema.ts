import { z } from 'zod';

/**
 * The configuration, one schema for the file and the environment (PROTOCOL.md section 5).
 * Every object is strict: an unknown key stops the start.
 */

const tableObject = z.strictObject({
    table: z.string().min(1).optional(),
    id_column: z.string().min(1).default('id'),
    columns: z.array(z.string().min(1)).optional(),
    owner_column: z.string().min(1).optional(),
    owner: z
      .strictObject({ through: z.string().min(1), table: z.string().min(1), column: z.string().min(1) })
      .optional(),
    conflict: z
      .strictObject({
        strategy: z.enum(['last_write_wins', 'version', 'timestamp', 'field_timestamps', 'previous_values']),
        column: z.string().min(1).optional(),
        on_conflict: z.enum(['reject', 'skip']).default('reject'),
      })
      .optional(),
    put: z.enum(['merge', 'replace']).default('merge'),
    apply: z.enum(['fast', 'exact']).default('fast'),
    on_unknown_column: z.enum(['reject', 'hold']).default('reject'),
    types: z.record(z.string(), z.string()).optional(),
    /** DELETE sets this column (now() for a timestamp, true for a boolean) instead of removing the row. */
    soft_delete: z.strictObject({ column: z.string().min(1) }).optional(),
    /** A JSON Schema (draft 2020-12 subset, via ajv) that PUT and PATCH data must satisfy. */
    json_schema: z.record(z.string(), z.unknown()).optional(),
});

// `tables: { todos: }` in YAML is null: an empty table entry is valid.
const tableSchema = tableObject.nullish().transform((t): TableConfig => t ?? tableObject.parse({}));

/**
 * Accepts a number, or a string holding one (a quoted YAML value, an environment variable).
 * Not z.coerce.number: that turns null, '' and true into 0/1, so `port:` left empty would
 * silently listen on a random port.
 */
const numeric = (schema: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), schema);

const positiveInt = numeric(z.number().int().positive());

export const configSchema = z.strictObject({
  database: z
    .strictObject({
      url: z.string().min(1).optional(),
      /** Postgres: prepare the fast path's statements per connection; off behind a pooler in transaction mode. */
      prepared_statements: z.boolean().default(true),
    })
    .default({ prepared_statements: true }),
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: numeric(z.number().int().min(0).max(65535)).default(8080),
      max_body_bytes: positiveInt.default(16 * 1024 * 1024),
      max_batch_ops: positiveInt.default(50_000),
      rate_limit: z.strictObject({ per_user_per_minute: positiveInt }).optional(),
      /** How long shutdown waits for in-flight batches before closing the pool anyway. */
      shutdown_timeout_ms: positiveInt.default(30_000),
      /**
       * How long a request may take to arrive in full (headers and body) before it is
       * answered 408 and its connection closed: Node's own default, which fastify turns off.
       */
      // At least a second (Node checks connections as often as this), at most Node's limit.
      request_timeout_ms: numeric(z.number().int().min(1000).max(2_147_483_647)).default(300_000),
    })
    .default(() => serverDefaults()),
  auth: z
    .strictObject({
      mode: z.enum(['jwt', 'none']).default('jwt'),
      jwt: z
        .strictObject({
          secret: z.string().min(1).optional(),
          jwks_url: z.string().url().optional(),
          // The keys themselves are checked in auth-problems.ts (public, importable, supported).
          jwks: z.looseObject({ keys: z.array(z.looseObject({ kty: z.string() })) }).optional(),
          public_key: z.string().min(1).optional(),
          issuer: z.string().min(1).optional(),
          audience: z.string().min(1).optional(),
          user_claim: z.string().min(1).default('sub'),
          jwks_cooldown_ms: numeric(z.number().int().min(0)).default(5000),
        })
        .optional(),
      /**
       * `GET /api/auth/token` and `GET /api/auth/keys` for local work, as the PowerSync demo
       * backends offer. Off by default: when on, anyone who reaches the server gets a token.
       */
      dev_tokens: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** PEM (PKCS#8) RSA, EC or Ed25519 private key; absent: an RS256 key pair made at every start. */
          private_key: z.string().min(1).optional(),
          /** `kid` of the dev key; default: its JWK thumbprint. */
          kid: z.string().min(1).optional(),
          /** The user of a token asked for without `?user_id=`; default: a random UUID made at start. */
          user_id: z.string().min(1).optional(),
          /** Returned with each token, for the demo connectors' fetchCredentials. */
          powersync_url: z.string().url().optional(),
        })
        .default({ enabled: false }),
      postgres_role: z.string().min(1).optional(),
    })
    .optional(),
  // `tables:` with every entry commented out is YAML null: same as no tables.
  tables: z
    .record(z.string().min(1), tableSchema)
    .nullish()
    .transform((t) => t ?? {}),
  // Not z.coerce.boolean: it reads the string 'false' as true.
  compat: z.strictObject({ demo_routes: z.boolean().default(false) }).default({ demo_routes: false }),
  admin: z.strictObject({ token: z.string().min(1).optional() }).default({}),
});

function serverDefaults() {
  return {
    host: '127.0.0.1',
    port: 8080,
    max_body_bytes: 16 * 1024 * 1024,
    max_batch_ops: 50_000,
    shutdown_timeout_ms: 30_000,
    request_timeout_ms: 300_000,
  };
}

export type WritepathConfig = z.output<typeof configSchema>;
export type AuthConfig = NonNullable<WritepathConfig['auth']>;
export type DevTokensConfig = AuthConfig['dev_tokens'];
export type TableConfig = z.output<typeof tableObject>;
