/**
 * The part of a PowerSync database the uploader uses. Databases of `@powersync/web`,
 * `@powersync/node` and `@powersync/react-native` all have it. It is spelled out here rather
 * than imported, so that the uploader takes any SDK version: the SDKs' own classes differ
 * between `@powersync/common` releases, while this shape stays the same.
 */
export interface UploadQueue {
  getClientId(): Promise<string>;
  /**
   * Whole client transactions, oldest first. `complete()` on one completes it and every
   * one before it. Older SDKs lack it; then one transaction is sent per request.
   */
  getCrudTransactions?(): AsyncIterable<QueuedTransaction>;
  getNextCrudTransaction(): Promise<QueuedTransaction | null>;
}

/** A client transaction of the upload queue (the SDK's `CrudTransaction`). */
export interface QueuedTransaction {
  /** The entries (the SDK's `CrudEntry`); `JSON.stringify` writes them in the wire format. */
  crud: readonly unknown[];
  complete(writeCheckpoint?: string): Promise<void>;
}

/**
 * Reads whole transactions from the head of the queue until `budget` entries are reached;
 * never splits one, so a transaction larger than the budget comes alone.
 */
export async function readTransactions(queue: UploadQueue, budget: number): Promise<QueuedTransaction[]> {
  if (typeof queue.getCrudTransactions !== 'function') {
    const next = await queue.getNextCrudTransaction();
    return next ? [next] : [];
  }
  const picked: QueuedTransaction[] = [];
  let entries = 0;
  for await (const transaction of queue.getCrudTransactions()) {
    if (picked.length > 0 && entries + transaction.crud.length > budget) break;
    picked.push(transaction);
    entries += transaction.crud.length;
    if (entries >= budget) break;
  }
  return picked;
}

/** How many of `transactions`, from the first, fit in `budget` entries (at least one). */
export function fitting(transactions: readonly QueuedTransaction[], budget: number): number {
  let entries = transactions[0]?.crud.length ?? 0;
  let count = 1;
  while (count < transactions.length && entries + transactions[count]!.crud.length <= budget) {
    entries += transactions[count]!.crud.length;
    count++;
  }
  return count;
}

export const entryCount = (transactions: readonly QueuedTransaction[]) => transactions.reduce((n, t) => n + t.crud.length, 0);
