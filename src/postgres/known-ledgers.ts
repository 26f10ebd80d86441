/**
 * Where this process last saw each client's ledger, so that a batch can guess it instead of
 * reading it first (see PgTransaction.lockLedger): a round trip fewer for every batch of a
 * client seen before. Only a guess: the batch's first statement checks it under the ledger
 * row's lock, and a wrong guess (another instance moved it, an operator reset it) costs the
 * batch one careful run more, never a wrong answer.
 */
export class KnownLedgers {
  private readonly positions = new Map<string, number>();

  /** At most this many clients are remembered, the least recently used forgotten first. */
  constructor(private readonly capacity = 100_000) {}

  get(userId: string, clientId: string): number | undefined {
    return this.positions.get(key(userId, clientId));
  }

  remember(userId: string, clientId: string, lastOpId: number): void {
    const k = key(userId, clientId);
    // Deleted first, so that the Map's insertion order stays the order of use.
    this.positions.delete(k);
    this.positions.set(k, lastOpId);
    if (this.positions.size > this.capacity) this.positions.delete(this.positions.keys().next().value!);
  }

  forget(userId: string, clientId: string): void {
    this.positions.delete(key(userId, clientId));
  }
}

// Client ids never hold NUL (checked when the request is parsed); user ids are the token's.
const key = (userId: string, clientId: string) => `${userId}\u0000${clientId}`;
