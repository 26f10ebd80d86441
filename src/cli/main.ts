import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

// The `writepath` command line. Thin: parse flags, call the subcommand, turn errors into
// exit codes (2 for a usage mistake, 1 for anything else) without stack traces.
// Subcommands are imported when run, so `token` or `--help` never load the server, fastify
// or pg, and a problem in one subcommand's module cannot break the others.

const USAGE = `Usage: writepath <command> [options]

Commands:
  serve [--config PATH]                       start the server (no config: local playground)
  init --database-url URL [--out FILE] [--force]
                                              write a starter config from the database's tables
  token --sub USER [--ttl 1h] [--config PATH] print a development token for the configured key
                                              (auth.dev_tokens.private_key, else auth.jwt.secret)
  help                                        show this help

Options:
  -h, --help       show this help
  -v, --version    print the version

Every configuration key can be set from the environment: WRITEPATH_ + key path in capitals,
__ between levels (WRITEPATH_AUTH__JWT__SECRET); DATABASE_URL and PORT are read as well.`;

/** A mistake in how the command was called: answered with the usage text and exit code 2. */
class UsageError extends Error {}

const COMMANDS: Record<string, { options: NonNullable<ParseArgsConfig['options']>; run: (v: Values) => Promise<void> }> = {
  serve: {
    options: { config: { type: 'string', short: 'c' } },
    run: async (v) => {
      const { runServe } = await import('./serve.ts');
      await runServe({ configPath: text(v.config) });
    },
  },
  init: {
    options: { 'database-url': { type: 'string' }, out: { type: 'string', short: 'o' }, force: { type: 'boolean', short: 'f' } },
    run: async (v) => {
      const databaseUrl = text(v['database-url']);
      if (!databaseUrl) throw new UsageError('init needs --database-url postgres://…');
      if (databaseUrl.startsWith('mongodb')) {
        throw new UsageError('init reads a Postgres schema; a MongoDB collection has none to read: declare tables.<name>.types by hand (README, "MongoDB")');
      }
      const { runInit } = await import('./init.ts');
      await runInit({ databaseUrl, out: text(v.out) ?? 'writepath.yaml', force: v.force === true });
    },
  },
  token: {
    options: { sub: { type: 'string' }, ttl: { type: 'string' }, config: { type: 'string', short: 'c' } },
    run: async (v) => {
      const sub = text(v.sub);
      if (!sub) throw new UsageError('token needs --sub USER');
      const { runToken } = await import('./token.ts');
      console.log(await runToken({ sub, ttl: text(v.ttl), configPath: text(v.config), env: process.env }));
    },
  },
};

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function text(value: Values[string]): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    console.log(version());
    return 0;
  }
  try {
    const spec = COMMANDS[command];
    if (!spec) throw new UsageError(`unknown command "${command}"`);
    const { values } = parseArgs({ args: rest, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    await spec.run(values);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      console.error(`writepath: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`writepath: ${err instanceof Error ? err.message : String(err)}`);
    // The stack is noise for a user; set DEBUG=writepath to see it.
    if (process.env.DEBUG?.includes('writepath') && err instanceof Error) console.error(err.stack);
    return 1;
  }
}

function isParseArgsError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// Set exitCode instead of calling exit(): a running server keeps the process alive, and
// pending output is flushed before the process ends.
process.exitCode = await main(process.argv.slice(2));
