import { Writable } from 'node:stream';

/** A fastify/pino logger option that keeps every line it writes, at every level, in `lines`. */
export function captureLogs(lines: string[] = []): { lines: string[]; logger: { level: string; stream: Writable } } {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: { level: 'trace', stream } };
}
