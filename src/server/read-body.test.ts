import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { WritepathError } from '../core/errors.ts';
import { readBody } from './read-body.ts';

const chunksOf = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => Buffer.from(text.slice(i * size, (i + 1) * size)));
const body = JSON.stringify({ client_id: 'c', batch: Array.from({ length: 200 }, (_, i) => ({ op_id: i + 1, op: 'PUT', id: `row-${i}` })) });

describe('readBody', () => {
  it('reads a body of the declared length, chunk by chunk, into the same bytes', async () => {
    const bytes = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length));
    expect(bytes.toString('utf8')).toBe(body);
  });

  it('keeps every byte when more comes than was declared, or less', async () => {
    const more = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length - 150));
    expect(more.toString('utf8')).toBe(body);
    const less = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1 << 20, String(body.length + 150));
    expect(less.length).toBe(body.length);
    expect(less.toString('utf8')).toBe(body);
  });

  it('reads without a usable declared length: none, not a number, over the limit', async () => {
    for (const declared of [undefined, 'twelve', '-5', String(10 << 20)]) {
      const bytes = await readBody(Readable.from(chunksOf(body, 97)), 'identity', 1 << 20, declared);
      expect(bytes.toString('utf8')).toBe(body);
    }
  });

  it('answers 413 past the limit, whatever length was declared', async () => {
    for (const declared of [undefined, String(body.length), '10']) {
      const error = await readBody(Readable.from(chunksOf(body, 97)), undefined, 1000, declared).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WritepathError);
      expect((error as WritepathError).code).toBe('body_too_large');
    }
  });

  it('ignores the declared length of a gzip body, which counts compressed bytes', async () => {
    const zipped = gzipSync(body);
    const bytes = await readBody(Readable.from([zipped]), 'gzip', 1 << 20, String(zipped.length));
    expect(bytes.toString('utf8')).toBe(body);
  });
});
