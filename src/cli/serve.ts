import { devTokenIssuer } from '../auth/dev-tokens.ts';
import { loadConfig } from '../config/load.ts';
import type { WritepathConfig } from '../config/schema.ts';
import { startPlayground, type Playground } from '../playground/playground.ts';
import { heapGuard } from '../server/heap-guard.ts';
import { startServer, StartupError } from '../server/start.ts';

/**
 * `writepath serve`: with a configuration (file or environment) serves it; with none at
 * all, the local playground. Stops on SIGTERM/SIGINT after in-flight batches finish.
 */
export async function runServe(options: { configPath?: string }): Promise<void> {
  heapGuard.enable();
  const env = process.env;
  let config: WritepathConfig;
  let playground: Playground | undefined;
  if (options.configPath === undefined && !hasEnvironmentConfig(env)) {
    playground = await startPlayground(env);
    config = playground.config;
  } else {
    const loaded = loadConfig({ file: options.configPath, env });
    if (!loaded.ok) throw new StartupError(loaded.problems);
    config = loaded.config;
  }
  if (config.auth?.mode === 'none') {
    console.warn('writepath: WARNING auth.mode is none: every request is accepted as user "anonymous". For local work only.');
  }
  if (config.auth?.dev_tokens.enabled) {
    const { defaultUserId } = await devTokenIssuer(config.auth);
    console.warn(
      `writepath: WARNING auth.dev_tokens is enabled: anyone who reaches GET /api/auth/token gets a token for any user (default user "${defaultUserId}"). For local work only.`,
    );
  }

  let server;
  try {
    server = await startServer(config, { logger: { level: env.LOG_LEVEL ?? 'info' } });
  } catch (error) {
    await playground?.database.stop();
    throw error;
  }
  if (playground) console.log(playground.instructions(server.url));
  if (!youngGenerationSet(process.execArgv, env.NODE_OPTIONS)) {
    server.app.log.info('node runs with V8\'s default young generation: with --max-semi-space-size=24 (as `npm start` runs it) the server takes 5 to 15% more small batches a second (README: Operations)');
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info(`${signal}: finishing in-flight batches, then stopping`);
    const timer = setTimeout(() => {
      server.app.log.error('in-flight batches did not finish in time; stopping anyway');
      process.exit(1);
    }, config.server.shutdown_timeout_ms);
    timer.unref();
    await server.close();
    await playground?.database.stop();
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** Whether node was started with a young generation size of its own (see bin/writepath.js). */
function youngGenerationSet(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--(max|min)[-_]semi[-_]space[-_]size/.test(arg));
}

/** Any setting in the environment means the user configures the server, not the playground. */
function hasEnvironmentConfig(env: Record<string, string | undefined>): boolean {
  return Object.keys(env).some((k) => (k.startsWith('WRITEPATH_') && k !== 'WRITEPATH_PLAYGROUND_DIR' && env[k]) || (k === 'DATABASE_URL' && env[k]));
}
