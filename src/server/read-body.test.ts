import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WritepathError } from '../core/errors.ts';
import { readBody } from './read-body.ts';

const chunksOf = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => Buffer.from(text.slice(i * size, (i + 1) * size)));
const body = JSON.stringify({ client_id: 'c', batch: Array.from({ length: 200 }, (_, i) => ({ op_id: i + 1, op: 'PUT', id: `row-${i}` })) });

/** The sizes of the buffers Buffer.concat made, with how many bytes went into each. */
function watchJoins() {
  const spy = vi.spyOn(Buffer, 'concat');
  return () => spy.mock.calls.map(([list, length]) => ({ length, filled: (list as Buffer[]).reduce((n, b) => n + b.length, 0) }));
}

const codeOfFailure = async (reading: Promise<Buffer>) => {
  const error = await reading.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WritepathError);
  return (error as WritepathError).code;
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('readBody', () => {
  it('reads a body of the declared length into one buffer of that size, made once half of it has come', async () => {
    const joins = watchJoins();
    const bytes = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length));
    expect(bytes.toString('utf8')).toBe(body);
    const whole = joins().filter((j) => j.length === body.length);
    expect(whole).toHaveLength(1);
    expect(whole[0]!.filled).toBeGreaterThanOrEqual(body.length / 2);
    expect(whole[0]!.filled).toBeLessThan(body.length / 2 + 97);
  });

  it('holds no buffer of the declared size for a client that sends less than half of it', async () => {
    const joins = watchJoins();
    const bytes = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length * 2 + 1));
    expect(bytes.toString('utf8')).toBe(body);
    expect(joins().map((j) => j.length)).toEqual([body.length]);
  });

  it('keeps every byte when more comes than was declared, or less', async () => {
    const more = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length - 150));
    expect(more.toString('utf8')).toBe(body);
    const less = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length + 150));
    expect(less.length).toBe(body.length);
    expect(less.toString('utf8')).toBe(body);
  });

  it('uses no declared length that is missing, not a number, over the limit, or that of a gzip body', async () => {
    const joins = watchJoins();
    // The limit is the body's size: one byte more declared is over it.
    for (const declared of [undefined, 'twelve', '-5', String(body.length + 1)]) {
      const bytes = await readBody(Readable.from(chunksOf(body, 97)), 'identity', body.length, declared);
      expect(bytes.toString('utf8')).toBe(body);
    }
    // A gzip body's Content-Length counts compressed bytes, not the size to hold.
    const unzipped = await readBody(Readable.from([gzipSync(body)]), 'gzip', 1 << 20, String(body.length + 1));
    expect(unzipped.toString('utf8')).toBe(body);
    expect(joins().filter((j) => j.length !== body.length)).toEqual([]);
  });

  it('takes a body of exactly the limit and answers 413 to one byte more, in one chunk or many', async () => {
    const limit = body.length;
    for (const size of [limit, 97]) {
      const exact = await readBody(Readable.from(chunksOf(body, size)), undefined, limit, String(body.length));
      expect(exact.toString('utf8')).toBe(body);
      const over = `${body} `;
      expect(await codeOfFailure(readBody(Readable.from(chunksOf(over, size)), undefined, limit, String(over.length)))).toBe('body_too_large');
      expect(await codeOfFailure(readBody(Readable.from(chunksOf(over, size)), undefined, limit, undefined))).toBe('body_too_large');
    }
  });

  it('answers 413 past the limit, whatever length was declared', async () => {
    for (const declared of [undefined, String(body.length), '10']) {
      expect(await codeOfFailure(readBody(Readable.from(chunksOf(body, 97)), undefined, 1000, declared))).toBe('body_too_large');
    }
  });

  it('fails when the body stops with an error part way, declared length or not; a connection closed by the client is its fault, a 400', async () => {
    const cut = (error: Error) =>
      Readable.from(
        (async function* () {
          yield* chunksOf(body.slice(0, 2_000), 97);
          throw error;
        })(),
      );
    for (const declared of [String(body.length), undefined]) {
      await expect(readBody(cut(new Error('disk on fire')), undefined, 1 << 20, declared)).rejects.toThrow('disk on fire');
      const aborted = await readBody(cut(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), undefined, 1 << 20, declared).catch((e: unknown) => e);
      expect(aborted).toBeInstanceOf(WritepathError);
      expect(aborted).toMatchObject({ code: 'body_incomplete', status: 400 });
    }
  });
});
