import type { RawEntry } from '../protocol/wire.ts';
import { DIGEST_BYTES, sameDigest, type LazyDigests } from './entry-digest.ts';
import type { EntryDigests, StoreTransaction } from './store.ts';

/** What the ledger and the stored digests make of a batch's entries. */
export interface LedgerSplit {
  /** Entries to process, in op_id order: the fresh ones (above the ledger) and the rewound ones. */
  work: RawEntry[];
  /** Entries at or below the ledger with the content processed under their op_id (or none stored). */
  duplicates: number;
  /** op_ids of entries at or below the ledger whose content differs from what was processed. */
  rewound: number[];
  /**
   * What to record when the batch commits, undefined when there is no work: `work`'s
   * op_ids and, asked for then, their digests.
   */
  record: { opIds: number[]; digests: () => Uint8Array } | undefined;
}

/**
 * Sorts a batch's entries against the ledger (PROTOCOL.md 2.2). Above it: fresh. At or
 * below it: a duplicate when its digest equals the one stored for its op_id, rewound when
 * it differs (a client database restored from a backup reuses op_ids for new writes).
 *
 * An entry with no stored digest is a duplicate: its op_id was processed past the
 * retention or before digests were kept, and then nothing tells a retry from new work.
 * Applying a retry twice would break exactly-once for every client that retries; skipping a
 * restored client's write is what the ledger did before, and only past the retention.
 *
 * Reads the stored digests once, and only when some entries are at or below the ledger.
 * `digests` are those of `entries` as the client sent them (see LazyDigests): a retry is
 * hashed before hooks run, so what is recorded must be too.
 */
export async function splitByLedger(
  tx: StoreTransaction,
  userId: string,
  clientId: string,
  entries: RawEntry[],
  digests: LazyDigests,
  ledger: number,
): Promise<LedgerSplit> {
  if (entries.length === 0) return { work: entries, duplicates: 0, rewound: [], record: undefined };
  // op_ids are strictly increasing (checked when the request was parsed).
  let firstFresh = 0;
  while (firstFresh < entries.length && entries[firstFresh]!.opId <= ledger) firstFresh++;
  // All fresh, the usual case: no digest is needed before the commit.
  if (firstFresh === 0) return { work: entries, duplicates: 0, rewound: [], record: { opIds: entries.map((e) => e.opId), digests: () => digests.all() } };

  const stored = latestDigests(await tx.readDigests(userId, clientId, entries[0]!.opId, entries[firstFresh - 1]!.opId));
  const kept: number[] = [];
  const rewound: number[] = [];
  const known = digests.upTo(firstFresh);
  for (let i = 0; i < firstFresh; i++) {
    const found = stored.get(entries[i]!.opId);
    if (!found || sameDigest(known, i, found.digests, found.index)) continue;
    kept.push(i);
    rewound.push(entries[i]!.opId);
  }
  for (let i = firstFresh; i < entries.length; i++) kept.push(i);
  if (kept.length === 0) return { work: [], duplicates: entries.length, rewound, record: undefined };

  const every = digests.all();
  const picked = new Uint8Array(kept.length * DIGEST_BYTES);
  kept.forEach((i, k) => picked.set(every.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES), k * DIGEST_BYTES));
  const work = kept.map((i) => entries[i]!);
  return { work, duplicates: entries.length - work.length, rewound, record: { opIds: work.map((e) => e.opId), digests: () => picked } };
}

/** Where each op_id's latest digest is: later records replace earlier ones (a rewound entry's new content). */
function latestDigests(records: EntryDigests[]): Map<number, { digests: Uint8Array; index: number }> {
  const latest = new Map<number, { digests: Uint8Array; index: number }>();
  for (const record of records) record.opIds.forEach((opId, index) => latest.set(opId, { digests: record.digests, index }));
  return latest;
}
