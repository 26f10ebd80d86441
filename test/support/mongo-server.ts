import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const JONGODB = 'node_modules/@jongodb/memory-server-bin-linux-x64-gnu/bin/jongodb';

export interface MongoTestServer {
  url: string;
  /** Stops the server by its pid. */
  stop(): Promise<void>;
}

/**
 * Starts the jongodb binary (a MongoDB-wire server with transactions) on a free port of
 * 127.0.0.1, as a one-node replica set unless `standalone`; resolves once it prints its URI.
 * A standalone jongodb still runs transactions, and is reached without discovery: through a
 * proxy, say (a replica set member makes the driver go to the address it advertises).
 */
export function startJongodb(options: { standalone?: boolean; timeoutMs?: number } = {}): Promise<MongoTestServer> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const args = ['--host=127.0.0.1', '--port=0', ...(options.standalone ? [] : ['--topology-profile=singleNodeReplicaSet'])];
  const child = spawn(JONGODB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`jongodb printed no URI within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`jongodb exited (${code}) before printing its URI: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^JONGODB_URI=(\S+)/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: match[1]!, stop: () => stopChild(child) });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(child.pid!, 'SIGTERM');
    setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'), 5000).unref();
  });
}
