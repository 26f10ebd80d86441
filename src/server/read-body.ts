import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { badRequest, WritepathError } from '../core/errors.ts';

/**
 * Reads a request body, undoing gzip, and stops as soon as the decoded size passes the
 * limit: a small gzip bomb costs at most `maxBytes` of memory, never its inflated size.
 * `declaredLength` is the request's Content-Length, if it has one (see BodyBytes).
 */
export async function readBody(stream: Readable, encoding: string | undefined, maxBytes: number, declaredLength?: string): Promise<Buffer> {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding !== 'identity' && coding !== 'gzip') {
    throw new WritepathError({ code: 'unsupported_encoding', status: 415, message: `Content-Encoding ${coding} is not supported; use gzip or none` });
  }
  const source: Readable = coding === 'gzip' ? stream.pipe(createGunzip()) : stream;
  if (coding === 'gzip') stream.on('error', (error) => source.destroy(error));
  const declared = coding === 'identity' ? Number(declaredLength) : NaN;
  const bytes = new BodyBytes(Number.isSafeInteger(declared) && declared > 0 && declared <= maxBytes ? declared : 0);
  try {
    for await (const chunk of source) {
      if (bytes.size + (chunk as Buffer).length > maxBytes) {
        if (source !== stream) {
          stream.unpipe();
          source.destroy();
        }
        await discardRest(stream, maxBytes);
        throw tooLarge(maxBytes);
      }
      bytes.add(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof WritepathError) throw error;
    // The client went away (or was timed out, see server.request_timeout_ms) part way
    // through: its fault, not the server's, and no answer will reach it.
    if ((error as { code?: string }).code === 'ECONNRESET') throw badRequest('body_incomplete', 'the connection closed before the whole body came; nothing was applied');
    if (coding === 'gzip') throw badRequest('invalid_gzip', 'the body is not valid gzip');
    throw error;
  }
  return bytes.all();
}

/**
 * A body's bytes as they arrive. Collected and joined at the end, a large body is held
 * twice, and its chunks linger in the allocator (about 25 MB more peak memory for a
 * 100,000-entry batch). With the size the request declares, once half of it has come the
 * chunks so far are joined into one buffer of the whole size, and the rest is copied in as
 * it comes, each chunk free at once. Not before half: a client that declares much and sends
 * little holds at most twice what it sent.
 */
class BodyBytes {
  size = 0;
  private whole: Buffer | undefined;
  private chunks: Buffer[] = [];

  constructor(private declared: number) {}

  add(chunk: Buffer): void {
    if (this.whole) {
      if (this.size + chunk.length <= this.whole.length) {
        chunk.copy(this.whole, this.size);
        this.size += chunk.length;
        return;
      }
      // More than declared (node's HTTP parser would not pass that on): chunks from here.
      this.chunks = [this.whole.subarray(0, this.size)];
      this.whole = undefined;
      this.declared = 0;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.declared > 0 && this.size * 2 >= this.declared && this.size <= this.declared) {
      // The part not yet come is zero-filled, so no byte of the buffer is ever uninitialised.
      this.whole = Buffer.concat(this.chunks, this.declared);
      this.chunks = [];
    }
  }

  all(): Buffer {
    return this.whole ? this.whole.subarray(0, this.size) : Buffer.concat(this.chunks, this.size);
  }
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
