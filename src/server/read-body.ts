import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { badRequest, WritepathError } from '../core/errors.ts';

/**
 * Reads a request body, undoing gzip, and stops as soon as the decoded size passes the
 * limit: a small gzip bomb costs at most `maxBytes` of memory, never its inflated size.
 */
export async function readBody(stream: Readable, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding !== 'identity' && coding !== 'gzip') {
    throw new WritepathError({ code: 'unsupported_encoding', status: 415, message: `Content-Encoding ${coding} is not supported; use gzip or none` });
  }
  const source: Readable = coding === 'gzip' ? stream.pipe(createGunzip()) : stream;
  if (coding === 'gzip') stream.on('error', (error) => source.destroy(error));
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        if (source !== stream) {
          stream.unpipe();
          source.destroy();
        }
        await discardRest(stream, maxBytes);
        throw tooLarge(maxBytes);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof WritepathError) throw error;
    if (coding === 'gzip') throw badRequest('invalid_gzip', 'the body is not valid gzip');
    throw error;
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads and drops what the client still sends, so it receives the 413 instead of a reset
 * connection (an uploader can then shrink its batches). A client that keeps sending far
 * past the limit is cut off.
 */
async function discardRest(stream: Readable, maxBytes: number): Promise<void> {
  const cap = Math.max(maxBytes, 1024 * 1024) * 4;
  let dropped = 0;
  for await (const chunk of stream) {
    dropped += (chunk as Buffer).length;
    if (dropped > cap) {
      stream.destroy();
      return;
    }
  }
}

export function tooLarge(maxBytes: number): WritepathError {
  return new WritepathError({
    code: 'body_too_large',
    status: 413,
    message: `the body is over the limit of ${maxBytes} bytes (server.max_body_bytes, counted after gzip is undone); send fewer transactions per request`,
  });
}
