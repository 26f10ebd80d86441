import { serverError } from './errors.ts';
import type { ClientTransaction, Operation } from './operation.ts';
import type { OwnershipWalk, Verdict } from './ownership.ts';
import type { Savepoint, StoreTransaction, TransactionOutcome } from './store.ts';

/**
 * Applies a part whose ownership checks read rows, with the verdicts they would have entry
 * by entry, and returns one outcome per transaction (a refusal is a `forbidden` outcome).
 *
 * The walk assumes which transactions fail at apply: none at first. When what happened
 * differs from the assumption for a transaction a later check relied on (the parent of a
 * child, created by a transaction the database refused), that check was made against a
 * state that never existed. Then the part is rolled back to a savepoint taken before it and
 * applied again, the walk assuming the failures seen: those before the first verdict that
 * changes are certain; those after it may have been caused by what should have been
 * refused, so they are applied again to see (a parent that fails for its own reason fails
 * again, a row that collided with a refused child applies). Each round fixes the verdicts
 * up to one more that changed, so the rounds end; a part with many failing parents takes
 * two. Without a reliance (the usual case: children under parents that already exist)
 * there is no savepoint and one round.
 */
export async function applyOwned(
  tx: StoreTransaction,
  transactions: ClientTransaction<Operation>[],
  walk: OwnershipWalk,
): Promise<TransactionOutcome[]> {
  // Certain failures: known before anything is applied (a store that restarted the batch
  // to learn them), or learned in a round; never applied again.
  const certain = new Map<number, TransactionOutcome>();
  tx.knownOutcomes?.(transactions).forEach((outcome, index) => outcome && !outcome.ok && certain.set(index, outcome));
  /** Failures seen after the verdict that changed: walked as failing, applied to see. */
  let assumed = new Set<number>();
  let savepoint: Savepoint | undefined;
  let settledUpTo = -1;
  for (;;) {
    const { verdicts, reliedOn } = walk.walk(new Set([...certain.keys(), ...assumed]));
    if (!savepoint && reliedOn.size > 0 && tx.savepoint) savepoint = await tx.savepoint();
    const allowed = transactions.flatMap((_, index) => (certain.has(index) || verdicts[index] ? [] : [index]));
    const outcomes = allowed.length > 0 ? await tx.apply(allowed.map((index) => transactions[index]!)) : [];
    const seen = new Map<number, TransactionOutcome>();
    allowed.forEach((index, k) => !outcomes[k]!.ok && seen.set(index, outcomes[k]!));
    const done = async (final: Verdict[]) => {
      await savepoint?.release();
      return transactions.map((_, index) => certain.get(index) ?? seen.get(index) ?? outcomeOf(final[index]));
    };
    const wrong = allowed.filter((index) => assumed.has(index) !== seen.has(index));
    if (!savepoint || !wrong.some((index) => reliedOn.has(index))) return done(verdicts);
    const failures = new Set([...certain.keys(), ...seen.keys()]);
    const again = walk.walk(failures).verdicts;
    // A transaction that failed may be one that should have been refused (a child the
    // database refused for its missing parent): it is compared too.
    const changed = transactions.findIndex((_, index) => !again[index] !== !verdicts[index]);
    // Every allowed transaction was rightly allowed: what was applied stands; a refusal's
    // reason may read differently knowing of the failures.
    if (changed < 0) return done(again);
    // The verdicts before `changed` were right, so the next round's reach further.
    if (changed <= settledUpTo) throw serverError('internal', 'an ownership verdict changed twice');
    settledUpTo = changed;
    await savepoint.rollback();
    for (const [index, outcome] of seen) if (index < changed) certain.set(index, outcome);
    assumed = new Set([...seen.keys()].filter((index) => index > changed));
  }
}

function outcomeOf(verdict: Verdict): TransactionOutcome {
  return verdict ? { ok: false, opId: verdict.opId, problem: verdict.problem } : { ok: true };
}
