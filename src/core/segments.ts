import { firstConflict } from './fast-order.ts';
import { planFast, type FastPlan } from './fast-plan.ts';
import type { ClientTransaction, Operation } from './operation.ts';
import type { TableRule } from '../rules/table-rules.ts';
import { exactPathReason, type FactsSource } from './table-facts.ts';

/** A run of consecutive client transactions applied the same way. */
export type Segment =
  | { path: 'exact'; transactions: ClientTransaction<Operation>[]; reason: string }
  | { path: 'fast'; transactions: ClientTransaction<Operation>[]; plan: FastPlan };

export interface SegmentOptions {
  /** A fast segment with fewer entries runs entry by entry instead (default 1: a fast segment is one round trip). */
  minFastEntries?: number;
}

/**
 * Splits client transactions, in order, into segments: exact ones (entry by entry) and fast
 * ones (folded, a constant number of set-based statements per table and round). Segments
 * run one after the other, so op order holds across them; within a fast segment
 * `firstConflict` proves it. The rule:
 *
 * 1. A transaction touching a table with an `exactPathReason` is exact.
 * 2. The others are gathered greedily into fast segments; a segment ends just before the
 *    transaction whose entry would break op order across tables (`firstConflict`), and a
 *    transaction that breaks it on its own is exact.
 * 3. Fast segments too small to gain anything run exact; neighbouring exact segments merge.
 */
export function segment(transactions: ClientTransaction<Operation>[], facts: FactsSource, options: SegmentOptions = {}): Segment[] {
  const minFast = options.minFastEntries ?? 1;
  const reasons = transactions.map((t) => staticReason(t, facts));
  const out: Segment[] = [];
  const exact = (list: ClientTransaction<Operation>[], reason: string) => {
    const last = out[out.length - 1];
    if (last?.path === 'exact') last.transactions.push(...list);
    else out.push({ path: 'exact', transactions: [...list], reason });
  };
  const fast = (list: ClientTransaction<Operation>[], plan: FastPlan) => {
    if (plan.placements.length < minFast) exact(list, 'too few entries to gain from folding');
    else out.push({ path: 'fast', transactions: list, plan });
  };

  let i = 0;
  while (i < transactions.length) {
    const reason = reasons[i];
    if (reason !== undefined) {
      exact([transactions[i]!], reason);
      i++;
      continue;
    }
    let end = i + 1;
    while (end < transactions.length && reasons[end] === undefined) end++;
    while (i < end) {
      // Phases depend on a row's later operations, so a prefix is planned and checked anew.
      for (let stop = end; ; ) {
        const range = transactions.slice(i, stop);
        const plan = planFast(range, facts);
        const conflict = firstConflict(plan);
        if (!conflict) {
          fast(range, plan);
          i = stop;
          break;
        }
        if (conflict.tx === 0) {
          exact([transactions[i]!], conflict.reason);
          i++;
          break;
        }
        stop = i + conflict.tx;
      }
    }
  }
  return out;
}

/** The first exactPathReason of the tables a transaction touches, given its entries there. */
function staticReason(transaction: ClientTransaction<Operation>, facts: FactsSource): string | undefined {
  const { entries } = transaction;
  const rule = entries[0]!.rule;
  if (entries.every((o) => o.rule === rule)) {
    const reason = exactPathReason(rule, facts.of(entries[0]!.table), entries);
    return reason === undefined ? undefined : `${rule.clientName}: ${reason}`;
  }
  const byRule = new Map<TableRule, Operation[]>();
  for (const operation of transaction.entries) {
    const list = byRule.get(operation.rule);
    if (list) list.push(operation);
    else byRule.set(operation.rule, [operation]);
  }
  for (const [rule, operations] of byRule) {
    const reason = exactPathReason(rule, facts.of(operations[0]!.table), operations);
    if (reason !== undefined) return `${rule.clientName}: ${reason}`;
  }
  return undefined;
}
