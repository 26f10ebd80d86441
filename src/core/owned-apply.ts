import { serverError } from './errors.ts';
import type { ClientTransaction, Operation } from './operation.ts';
import type { OwnershipWalk, Verdict } from './ownership.ts';
import type { Savepoint, StoreTransaction, TransactionOutcome } from './store.ts';

/**
 * Applies a part whose ownership checks read rows, with the verdicts they would have entry
 * by entry, and returns one outcome per transaction (a refusal is a `forbidden` outcome).
 *
 * The walk assumes every allowed transaction applies. When one fails at apply (a unique
 * index, a CHECK) and a later check relied on its effect (a child under the parent it
 * created), that check was made against a state that never existed. Then the part is
 * rolled back to a savepoint taken before it and applied again, the walk knowing of the
 * failures before the first verdict that changes; failures after it may be artifacts of
 * what was wrongly applied and are found again, or not. Each round settles the part up to
 * and including that verdict, so the rounds end. Without a reliance (the usual case:
 * children under parents that already exist) there is no savepoint and one round.
 */
export async function applyOwned(
  tx: StoreTransaction,
  transactions: ClientTransaction<Operation>[],
  walk: OwnershipWalk,
): Promise<TransactionOutcome[]> {
  // Known before anything is applied (a store that restarted the batch to learn them): not applied again.
  const failed = new Map<number, TransactionOutcome>();
  tx.knownOutcomes?.(transactions).forEach((outcome, index) => outcome && !outcome.ok && failed.set(index, outcome));
  let savepoint: Savepoint | undefined;
  for (;;) {
    const { verdicts, reliedOn } = walk.walk(new Set(failed.keys()));
    if (!savepoint && reliedOn.size > 0 && tx.savepoint) savepoint = await tx.savepoint();
    const allowed = transactions.flatMap((_, index) => (failed.has(index) || verdicts[index] ? [] : [index]));
    const outcomes = allowed.length > 0 ? await tx.apply(allowed.map((index) => transactions[index]!)) : [];
    const fresh = new Map<number, TransactionOutcome>();
    allowed.forEach((index, k) => !outcomes[k]!.ok && fresh.set(index, outcomes[k]!));
    const done = async (final: Verdict[]) => {
      await savepoint?.release();
      return transactions.map((_, index) => failed.get(index) ?? fresh.get(index) ?? outcomeOf(final[index]));
    };
    if (!savepoint || ![...fresh.keys()].some((index) => reliedOn.has(index))) return done(verdicts);
    const known = new Set([...failed.keys(), ...fresh.keys()]);
    const again = walk.walk(known).verdicts;
    // A transaction that failed may be one that should have been refused (a child the
    // database refused for its missing parent): it is compared too.
    const changed = transactions.findIndex((_, index) => !again[index] !== !verdicts[index]);
    // Every allowed transaction was rightly allowed: what was applied stands; a refusal's
    // reason may read differently knowing of the failures.
    if (changed < 0) return done(again);
    // Only a failure before it can change a verdict: each round learns one at least.
    const learned = [...fresh].filter(([index]) => index < changed);
    if (learned.length === 0) throw serverError('internal', 'an ownership verdict changed without a failure before it');
    await savepoint.rollback();
    for (const [index, outcome] of learned) failed.set(index, outcome);
  }
}

function outcomeOf(verdict: Verdict): TransactionOutcome {
  return verdict ? { ok: false, opId: verdict.opId, problem: verdict.problem } : { ok: true };
}
