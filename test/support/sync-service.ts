/**
 * Connecting the real PowerSync client (`db.connect()`) without a PowerSync sync service, so
 * that the SDK itself drives `uploadData`, as in an app.
 *
 * The Node SDK sends every sync-service request through `remoteOptions.customFetch` of the
 * database (see `NodeRemote` in @powersync/node); the stub below answers the two it makes:
 * - `POST /sync/stream`: 200 `application/x-ndjson`, one keepalive line, then held open until
 *   the SDK aborts it. The SDK counts as connected, and its upload loop only retries failed
 *   uploads while connected.
 * - `GET /write-checkpoint2.json`: asked after the queue drained (checkpointMode `legacy`,
 *   the default); answered `{"data":{"write_checkpoint":"1"}}`.
 * The uploads themselves go with the global fetch to the real writepath server.
 */
import type { PowerSyncBackendConnector } from '@powersync/node';
import { expect } from 'vitest';
import { createUploader, type UploaderOptions } from '../../src/client/index.ts';
import type { BatchResponse } from '../../src/protocol/response.ts';
import { openClient, type PowerSyncDatabase, type TestClient } from './powersync-client.ts';

/** The sync service's URL as the connector gives it; never reached, customFetch answers. */
export const SYNC_ENDPOINT = 'http://sync-service.test';

export function syncServiceFetch(): typeof fetch {
  return (async (resource: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(resource instanceof Request ? resource.url : String(resource));
    if (url.pathname === '/sync/stream') {
      const signal = init?.signal;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"token_expires_in":3600}\n'));
          signal?.addEventListener('abort', () => {
            try {
              controller.close();
            } catch {
              // already closed
            }
          });
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
    }
    if (url.pathname === '/write-checkpoint2.json') return Response.json({ data: { write_checkpoint: '1' } });
    return new Response('not part of the stub', { status: 404 });
  }) as typeof fetch;
}

/** A real PowerSync client whose sync-service requests go to the stub. */
export function openSyncedClient(): Promise<TestClient> {
  return openClient({ remoteOptions: { customFetch: syncServiceFetch() } });
}

/** Connects with the uploader as `uploadData`; retries after 50 ms, uploads without throttle. */
export async function connectUploader(db: PowerSyncDatabase, options: UploaderOptions, token: string | (() => Promise<string>) = 'unused'): Promise<void> {
  const connector: PowerSyncBackendConnector = {
    fetchCredentials: async () => ({ endpoint: SYNC_ENDPOINT, token: typeof token === 'string' ? token : await token() }),
    uploadData: createUploader(options),
  };
  await connectWith(db, connector);
}

export function connectWith(db: PowerSyncDatabase, connector: PowerSyncBackendConnector): Promise<void> {
  return db.connect(connector, { retryDelayMs: 50, crudUploadThrottleMs: 0 });
}

/** Polls until `check()` holds, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const waitForEmptyQueue = (db: PowerSyncDatabase, timeoutMs?: number) =>
  waitFor('an empty upload queue', async () => (await db.getUploadQueueStats()).count === 0, timeoutMs);

/** One upload as the server saw it. */
export interface RecordedUpload {
  status: number;
  /** Entries sent. */
  entries: number;
  /** Bytes of the JSON body. */
  bytes: number;
  /** op_id and tx_id of each entry sent, in order. */
  opIds: number[];
  txOfEntry: number[];
  /** The parsed answer (a BatchResponse on 200). */
  body: any;
}

/**
 * A fetch for the uploader that records every request and its answer; `before` runs ahead
 * of each request (and may hold it).
 */
export function recordingFetch(before?: (index: number) => Promise<void> | void) {
  const uploads: RecordedUpload[] = [];
  let started = 0;
  const fetch = (async (resource: RequestInfo | URL, init?: RequestInit) => {
    await before?.(started++);
    const sent = JSON.parse(String(init?.body)) as { batch: { op_id: number; tx_id?: number }[] };
    const response = await globalThis.fetch(resource, init);
    const text = await response.clone().text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    uploads.push({
      status: response.status,
      entries: sent.batch.length,
      bytes: Buffer.byteLength(String(init?.body)),
      opIds: sent.batch.map((e) => e.op_id),
      txOfEntry: sent.batch.map((e) => e.tx_id!),
      body,
    });
    return response;
  }) as typeof globalThis.fetch;
  return { fetch, uploads };
}

/** The 200 answers' results. */
export const processed = (uploads: RecordedUpload[]): BatchResponse[] => uploads.filter((u) => u.status === 200).map((u) => u.body);

/**
 * Asserts that no client transaction went out in parts: every request that carried a tx_id
 * carried all of its entries (a retried request carries them again, whole). Returns the
 * op_ids sent per tx_id.
 */
export function expectWholeTransactions(uploads: RecordedUpload[]): Map<number, string> {
  const byTx = new Map<number, string>();
  for (const u of uploads) {
    const mine = new Map<number, number[]>();
    u.opIds.forEach((opId, i) => mine.set(u.txOfEntry[i]!, [...(mine.get(u.txOfEntry[i]!) ?? []), opId]));
    for (const [tx, opIds] of mine) {
      const key = opIds.join(',');
      expect(byTx.get(tx) ?? key, `tx_id ${tx} was sent in parts`).toBe(key);
      byTx.set(tx, key);
    }
  }
  return byTx;
}
