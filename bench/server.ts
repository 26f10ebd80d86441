// The writepath server as a child process (`node bin/writepath.js serve`), so its peak
// memory is its own, and the HTTP clients of the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { postRequest, RawHttpConnection } from './raw-http.ts';

const SECRET = 'bench-secret-of-at-least-32-characters!!';

export interface BenchServer {
  url: string;
  pid: number;
  token(sub: string): Promise<string>;
  /** Peak resident set size of the server process so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

export async function startServer(databaseUrl: string, dir: string): Promise<BenchServer> {
  const port = await freePort();
  const config = {
    database: { url: databaseUrl },
    // Raised for the 100,000-entry batches (about 25 MB of JSON).
    server: { host: '127.0.0.1', port, max_batch_ops: 200_000, max_body_bytes: 256 * 1024 * 1024 },
    auth: { jwt: { secret: SECRET } },
    tables: { items: {} },
  };
  const file = join(dir, 'writepath-bench.json');
  writeFileSync(file, JSON.stringify(config));
  const root = new URL('..', import.meta.url).pathname;
  // The flag `npm start` runs the server with (see bin/writepath.js), then any of the bench's own.
  const flags = ['--max-semi-space-size=24', ...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const child: ChildProcess = spawn(process.execPath, [...flags, join(root, 'bin/writepath.js'), 'serve', '--config', file], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('the server did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    token: (sub) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('2h').sign(new TextEncoder().encode(SECRET)),
    peakRssMiB: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A POST of `body` to /api/data, made into bytes and given its connection beforehand: what
 * `send` takes, until the whole response is in, is the server's time (and the network's),
 * not the client's. Resolves with the parsed 200 response or throws.
 */
export async function preparePost(url: string, token: string, body: string): Promise<{ send: () => Promise<{ applied: number; duplicates: number; rejected: unknown[] }> }> {
  const target = new URL('/api/data', url);
  const request = postRequest(target, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body);
  const connection = await RawHttpConnection.open(target.hostname, Number(target.port));
  return {
    send: async () => {
      try {
        const { status, body: answer } = await connection.send(request);
        const text = answer.toString('utf8');
        if (status !== 200) throw new Error(`POST /api/data answered ${status}: ${text.slice(0, 300)}`);
        return JSON.parse(text);
      } finally {
        connection.close();
      }
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
