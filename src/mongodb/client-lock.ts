/**
 * Serializes the batches of one (user, client) within this process, as Postgres's row lock
 * on the ledger does. Across server instances MongoDB's write conflict on the ledger
 * document makes the later batch retry; within one instance waiting here is cheaper than
 * that retry, and it holds on servers that do not detect write conflicts at all (the
 * jongodb test server lets two transactions write one document and both commit).
 */
export class ClientLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits until the earlier holders of `key` are done; resolves with this holder's release. */
  async acquire(key: string): Promise<() => void> {
    const before = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before ? before.then(() => mine) : mine;
    this.tails.set(key, tail);
    if (before) await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
