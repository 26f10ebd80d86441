/**
 * The uploader against a fake upload queue and a fake fetch: what it sends, what it
 * completes, and what each answer does to the queue. End to end with the real SDK and the
 * real server: test/e2e-uploader.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PowerSyncBackendConnector } from '@powersync/common';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createUploader, UploadError, type UploadErrorCode, type UploaderOptions, type UploadQueue } from './index.ts';

interface FakeEntry {
  op_id: number;
  tx_id: number;
  op: string;
  type: string;
  id: string;
  data: Record<string, unknown>;
}

/** An upload queue of client transactions with `sizes[i]` entries each; op_ids from 1. */
function fakeQueue(sizes: number[], options: { legacy?: boolean } = {}) {
  let opId = 0;
  const transactions = sizes.map((size, index) => ({
    txId: index + 1,
    crud: Array.from({ length: size }, (): FakeEntry => {
      opId++;
      return { op_id: opId, tx_id: index + 1, op: 'PUT', type: 'lists', id: `row-${opId}`, data: { name: `n${opId}` } };
    }),
  }));
  let done = 0; // transactions completed, from the head
  const completed: number[] = []; // the tx_id each complete() was called on
  const view = (index: number) => ({
    crud: transactions[index]!.crud,
    complete: async () => {
      completed.push(transactions[index]!.txId);
      done = Math.max(done, index + 1);
    },
  });
  const queue: UploadQueue = {
    getClientId: async () => 'client-1',
    getNextCrudTransaction: async () => (done < transactions.length ? view(done) : null),
    ...(!options.legacy && {
      async *getCrudTransactions() {
        for (let i = done; i < transactions.length; i++) yield view(i);
      },
    }),
  };
  return { queue, completed, pending: () => transactions.slice(done).map((t) => t.txId) };
}

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: { client_id: string; batch: FakeEntry[] };
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | Error;

/** A fetch that records requests and answers with `answer(request)` (default: a 200 result for it). */
function fakeFetch(answer?: (sent: Sent, index: number) => Answer) {
  const sent: Sent[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    const request: Sent = { url, headers: init.headers as Record<string, string>, body: JSON.parse(String(init.body)) };
    sent.push(request);
    const a = answer?.(request, sent.length - 1) ?? ok(request);
    if (a instanceof Error) throw a;
    return new Response(typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? {}), { status: a.status, headers: a.headers });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, sent };
}

function ok(request: Sent, rejected: unknown[] = []): Answer {
  const batch = request.body.batch;
  return {
    status: 200,
    body: { client_id: request.body.client_id, last_op_id: batch.at(-1)!.op_id, applied: batch.length - rejected.length, duplicates: 0, skipped: 0, rejected },
  };
}

function uploader(fetch: typeof globalThis.fetch, options: Partial<UploaderOptions> = {}) {
  const errors: UploadError[] = [];
  const upload = createUploader({ url: 'http://wp.test/', credentials: async () => 'tok', fetch, onError: (e) => errors.push(e), ...options });
  return { upload, errors };
}

const sizesOf = (request: Sent) => [...new Set(request.body.batch.map((e) => e.tx_id))];

async function expectUploadError(promise: Promise<unknown>, code: UploadErrorCode): Promise<UploadError> {
  const error = await promise.then(() => expect.fail('uploadData resolved'), (e: unknown) => e);
  expect(error).toBeInstanceOf(UploadError);
  expect((error as UploadError).code).toBe(code);
  return error as UploadError;
}

describe('what it sends', () => {
  it('does nothing for an empty queue', async () => {
    const { fetch, sent } = fakeFetch();
    await uploader(fetch).upload(fakeQueue([]).queue);
    expect(sent).toEqual([]);
  });

  it('posts whole transactions up to the budget as {client_id, batch}, with the token', async () => {
    const q = fakeQueue([3, 3, 3, 3]);
    const { fetch, sent } = fakeFetch();
    const { upload } = uploader(fetch, { maxBatchOps: 7 });
    await upload(q.queue);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe('http://wp.test/api/data');
    expect(sent[0]!.headers).toEqual({ 'Content-Type': 'application/json', Authorization: 'Bearer tok' });
    expect(sent[0]!.body.client_id).toBe('client-1');
    expect(sent[0]!.body.batch.map((e) => e.op_id)).toEqual([1, 2, 3, 4, 5, 6]);
    // Only the last transaction of the request is completed: that completes both.
    expect(q.completed).toEqual([2]);
    expect(q.pending()).toEqual([3, 4]);

    await upload(q.queue);
    await upload(q.queue);
    expect(sent.map(sizesOf)).toEqual([[1, 2], [3, 4]]);
    expect(q.pending()).toEqual([]);
  });

  it('sends a transaction larger than the budget alone, never split', async () => {
    const q = fakeQueue([2, 9, 2]);
    const { fetch, sent } = fakeFetch();
    const { upload } = uploader(fetch, { maxBatchOps: 4 });
    for (let i = 0; i < 3; i++) await upload(q.queue);
    expect(sent.map((s) => s.body.batch.length)).toEqual([2, 9, 2]);
    expect(q.pending()).toEqual([]);
  });

  it('falls back to one transaction per request on SDKs without getCrudTransactions()', async () => {
    const q = fakeQueue([1, 1], { legacy: true });
    const { fetch, sent } = fakeFetch();
    const { upload } = uploader(fetch);
    await upload(q.queue);
    expect(sent.map(sizesOf)).toEqual([[1]]);
    expect(q.pending()).toEqual([2]);
  });

  it('takes a url that already ends in /api/data', async () => {
    const { fetch, sent } = fakeFetch();
    await uploader(fetch, { url: 'https://x.test/writes/api/data' }).upload(fakeQueue([1]).queue);
    expect(sent[0]!.url).toBe('https://x.test/writes/api/data');
  });
});

describe('200', () => {
  it('completes the batch and then hands its rejections to onRejected', async () => {
    const q = fakeQueue([1, 2]);
    const rejected = [
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'lists', id: 'row-2', code: 'transaction_rejected', cause_op_id: 3, message: 'm' },
      { op_id: 3, tx_id: 2, op: 'PUT', type: 'lists', id: 'row-3', code: 'invalid_value', column: 'name', message: 'm' },
    ];
    const { fetch } = fakeFetch((request) => ok(request, rejected));
    const seen: unknown[] = [];
    const { upload } = uploader(fetch, {
      onRejected: (entries, result) => {
        seen.push({ entries, applied: result.applied, pendingThen: q.pending() });
      },
    });
    await upload(q.queue);
    expect(seen).toEqual([{ entries: rejected, applied: 1, pendingThen: [] }]);
  });

  it('reports an onRejected that throws through onError, and still moves on', async () => {
    const q = fakeQueue([1]);
    const { fetch } = fakeFetch((request) => ok(request, [{ op_id: 1, code: 'unknown_table', message: 'm' }]));
    const { upload, errors } = uploader(fetch, { onRejected: () => { throw new Error('ui gone'); } });
    await upload(q.queue);
    expect(q.pending()).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['on_rejected_failed']);
  });

  it('completes nothing when the 200 is not a result for what was sent', async () => {
    const bodies: unknown[] = [
      { message: 'Batch completed' }, // the demo backend's answer
      'not json',
      { client_id: 'another', last_op_id: 1, applied: 1, duplicates: 0, skipped: 0, rejected: [] },
      { client_id: 'client-1', last_op_id: 1, applied: 1, duplicates: 0, skipped: 0, rejected: [] }, // 1 of 2 entries
    ];
    for (const body of bodies) {
      const q = fakeQueue([2]);
      const { fetch } = fakeFetch(() => ({ status: 200, body }));
      await expectUploadError(uploader(fetch).upload(q.queue), 'bad_response');
      expect(q.completed).toEqual([]);
    }
  });
});

describe('errors: nothing completed, the SDK retries', () => {
  it('401: drops the cached token and throws; the next attempt fetches a fresh one', async () => {
    const q = fakeQueue([1]);
    const tokens = ['old', 'new'];
    let calls = 0;
    const { fetch, sent } = fakeFetch((request, index) =>
      index === 0 ? { status: 401, body: { error: { code: 'token_expired', message: 'expired' } } } : ok(request),
    );
    const { upload, errors } = uploader(fetch, { credentials: async () => tokens[calls++] });
    const error = await expectUploadError(upload(q.queue), 'unauthorized');
    expect(error).toMatchObject({ status: 401, serverCode: 'token_expired', retryable: true });
    expect(errors).toEqual([error]);
    expect(q.completed).toEqual([]);
    await upload(q.queue);
    expect(sent.map((s) => s.headers.Authorization)).toEqual(['Bearer old', 'Bearer new']);
    expect(q.pending()).toEqual([]);
  });

  it('keeps the token between uploads, and refetches it when its expiresAt is near', async () => {
    let calls = 0;
    const { fetch } = fakeFetch();
    const q = fakeQueue([1, 1, 1]);
    const { upload } = uploader(fetch, {
      // A connector's fetchCredentials() shape; the second one is about to expire.
      credentials: async () => ({ endpoint: 'https://ps.test', token: `t${++calls}`, expiresAt: new Date(Date.now() + (calls === 1 ? 3600_000 : 5_000)) }),
      maxBatchOps: 1,
    });
    await upload(q.queue);
    await upload(q.queue);
    expect(calls).toBe(1);
    const { fetch: fetch2, sent } = fakeFetch();
    const { upload: upload2 } = uploader(fetch2, {
      credentials: async () => ({ endpoint: 'https://ps.test', token: `s${++calls}`, expiresAt: new Date(Date.now() + 5_000) }),
      maxBatchOps: 1,
    });
    const q2 = fakeQueue([1, 1]);
    await upload2(q2.queue);
    await upload2(q2.queue);
    expect(sent.map((s) => s.headers.Authorization)).toEqual(['Bearer s2', 'Bearer s3']);
  });

  it('throws no_credentials when credentials() gives no token or fails, without a request', async () => {
    for (const credentials of [async () => null, async () => ({ token: '' }), async () => { throw new Error('offline'); }]) {
      const { fetch, sent } = fakeFetch();
      await expectUploadError(uploader(fetch, { credentials }).upload(fakeQueue([1]).queue), 'no_credentials');
      expect(sent).toEqual([]);
    }
  });

  const cases: Array<[string, Answer, UploadErrorCode, boolean]> = [
    ['429', { status: 429, body: { error: { code: 'rate_limited', message: 'slow down' } }, headers: { 'Retry-After': '42' } }, 'rate_limited', true],
    ['503', { status: 503, body: { error: { code: 'database_unavailable', message: 'down' } }, headers: { 'Retry-After': '1' } }, 'unavailable', true],
    ['500', { status: 500, body: { error: { code: 'internal', message: 'bug' } } }, 'server_error', true],
    ['502 from a proxy', { status: 502, body: '<html>bad gateway</html>' }, 'server_error', true],
    ['400', { status: 400, body: { error: { code: 'invalid_request', message: 'client_id' } } }, 'bad_request', false],
    ['408', { status: 408, body: { error: { code: 'request_timeout', message: 'too slow' } } }, 'unavailable', true],
    ['415', { status: 415, body: { error: { code: 'unsupported_media_type', message: 'json' } } }, 'bad_request', false],
    ['a network error', new TypeError('fetch failed'), 'network', true],
  ];
  for (const [label, answer, code, retryable] of cases) {
    it(`${label}: throws ${code}`, async () => {
      const q = fakeQueue([1, 1]);
      const { fetch } = fakeFetch(() => answer);
      const { upload, errors } = uploader(fetch);
      const error = await expectUploadError(upload(q.queue), code);
      expect(error.retryable).toBe(retryable);
      expect(errors).toEqual([error]);
      expect(q.completed).toEqual([]);
      if (label === '429') expect(error.retryAfterSeconds).toBe(42);
    });
  }

  it('gives up waiting after timeoutMs', async () => {
    const fetch = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new Error('aborted'))))) as unknown as typeof globalThis.fetch;
    const q = fakeQueue([1]);
    const error = await expectUploadError(uploader(fetch, { timeoutMs: 20 }).upload(q.queue), 'network');
    expect(error.message).toContain('within 20 ms');
    expect(q.completed).toEqual([]);
  });
});

describe('413', () => {
  it('halves the budget and retries at once, and keeps the smaller budget', async () => {
    const q = fakeQueue(Array(10).fill(1));
    // The server takes at most 3 entries per request.
    const { fetch, sent } = fakeFetch((request) => (request.body.batch.length > 3 ? { status: 413, body: { error: { code: 'body_too_large', message: 'limit' } } } : ok(request)));
    const { upload, errors } = uploader(fetch, { maxBatchOps: 10 });
    await upload(q.queue);
    expect(sent.map((s) => s.body.batch.length)).toEqual([10, 5, 2]);
    expect(q.pending()).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    while (q.pending().length > 0) await upload(q.queue);
    expect(sent.slice(3).map((s) => s.body.batch.length)).toEqual([2, 2, 2, 2]);
    expect(errors).toEqual([]);
  });

  it('reports a single transaction over the limit as transaction_too_large, and never completes or drops it', async () => {
    const q = fakeQueue([1, 6, 1]);
    const { fetch, sent } = fakeFetch((request) => (request.body.batch.length > 3 ? { status: 413, body: { error: { code: 'too_many_operations', message: 'over 3' } } } : ok(request)));
    const { upload, errors } = uploader(fetch, { maxBatchOps: 8 });
    // [1, 6, 1] is refused; halved to 4 entries, the first transaction goes alone.
    await upload(q.queue);
    expect(q.pending()).toEqual([2, 3]);
    // The 6-entry transaction cannot be made smaller: reported, thrown, kept, every time.
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await expectUploadError(upload(q.queue), 'transaction_too_large');
      expect(error).toMatchObject({ status: 413, retryable: false });
      expect(error.message).toContain('6 entries');
    }
    expect(errors.map((e) => e.code)).toEqual(['transaction_too_large', 'transaction_too_large']);
    expect(sent.map((s) => s.body.batch.length)).toEqual([8, 1, 6, 6]);
    expect(q.pending()).toEqual([2, 3]);
  });
});

describe('fits the PowerSync SDK types', () => {
  it('is a connector uploadData, and takes fetchCredentials as credentials', () => {
    const fetchCredentials: PowerSyncBackendConnector['fetchCredentials'] = async () => ({ endpoint: 'https://ps.test', token: 't' });
    const uploadData = createUploader({ url: 'https://wp.test', credentials: fetchCredentials });
    const connector: PowerSyncBackendConnector = { fetchCredentials, uploadData };
    expectTypeOf(connector.uploadData).toBeFunction();
  });

  it('imports no code outside src/client at run time (only types)', async () => {
    const dir = import.meta.dirname;
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const source = await readFile(join(dir, file), 'utf8');
      for (const [, what, from] of source.matchAll(/^(?:import|export)\s+(type\s+)?.*?from\s+'([^']+)'/gms)) {
        if (what) continue;
        expect(from, `${file} imports ${from}`).toMatch(/^\.\/[a-z-]+\.ts$/);
      }
    }
  });
});
