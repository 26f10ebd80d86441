import { isObject, type RawEntry } from '../protocol/wire.ts';
import { runValidator, type EntryView, type HookContext, type Hooks } from './hooks.ts';
import type { EntryProblem, Operation } from './operation.ts';

/**
 * Runs `beforeApply` on each new entry: an entry may come back changed (its op_id and
 * tx_id stay) or rejected. Entries that are not well-formed enough to show are passed on
 * as they are, for the engine to reject as malformed.
 */
export async function runBeforeApply(entries: RawEntry[], hooks: Hooks | undefined, ctx: HookContext): Promise<Array<RawEntry | { entry: RawEntry; problem: EntryProblem }>> {
  const beforeApply = hooks?.beforeApply;
  if (!beforeApply) return entries;
  const out: Array<RawEntry | { entry: RawEntry; problem: EntryProblem }> = [];
  for (const entry of entries) {
    const view = entryView(entry);
    if (!view) {
      out.push(entry);
      continue;
    }
    const result = await beforeApply(view, ctx);
    if (result && 'reject' in result) {
      out.push({ entry, problem: { code: result.code ?? 'validation_failed', message: result.reject } });
    } else if (result) {
      const fields = { ...entry.fields, op: result.op, type: result.type, id: result.id, data: result.data, old: result.old, metadata: result.metadata };
      out.push({ opId: entry.opId, txId: entry.txId, fields });
    } else {
      out.push(entry);
    }
  }
  return out;
}

/** Whether the operation has validators to run: a batch without any never awaits them. */
export function hasValidators(operation: Operation, hooks: Hooks | undefined): boolean {
  return operation.op !== 'DELETE' && (operation.rule.validate !== undefined || hooks?.tables?.[operation.rule.clientName]?.validate !== undefined);
}

/** Runs the table's validators (json_schema from the config, library validators) on PUT and PATCH data. */
export async function validateData(operation: Operation, hooks: Hooks | undefined): Promise<EntryProblem | undefined> {
  if (!hasValidators(operation, hooks)) return undefined;
  const data = isObject(operation.entry.fields.data) ? operation.entry.fields.data : {};
  const partial = operation.op === 'PATCH';
  const messages = [...(operation.rule.validate?.(data, partial) ?? [])];
  const validator = hooks?.tables?.[operation.rule.clientName]?.validate;
  if (validator) messages.push(...(await runValidator(validator, data, partial)));
  if (messages.length === 0) return undefined;
  return { code: 'validation_failed', message: `${operation.rule.clientName} ${operation.id}: ${messages.join('; ')}` };
}

/** The entry as hooks see it, or undefined when it lacks what a view needs. */
export function entryView(entry: RawEntry): EntryView | undefined {
  const f = entry.fields;
  if ((f.op !== 'PUT' && f.op !== 'PATCH' && f.op !== 'DELETE') || typeof f.type !== 'string' || typeof f.id !== 'string') return undefined;
  return {
    opId: entry.opId,
    ...(entry.txId !== undefined && { txId: entry.txId }),
    op: f.op,
    type: f.type,
    id: f.id,
    data: isObject(f.data) ? f.data : {},
    ...(isObject(f.old) && { old: f.old }),
    ...(typeof f.metadata === 'string' && { metadata: f.metadata }),
  };
}
