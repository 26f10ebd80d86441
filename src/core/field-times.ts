import type { Operation } from './operation.ts';

/**
 * Per-field last write wins (`conflict.strategy: field_timestamps`), the same on every
 * Store: the entry's metadata carries `{"field_timestamps": {col: time}}`; a column whose
 * time is older than the stored one is dropped, the rest applies, and the stored times move
 * forward. A column sent without a time applies as a plain write.
 *
 * @example
 * mergeFieldTimes(operation.values, 'field_timestamps', operation.metadata, { title: '2024-05-02T00:00:00Z' });
 * // { winners: [...the values whose time is not older], times: { title: ..., ...newer times } }
 */
export function mergeFieldTimes(
  values: Operation['values'],
  timesColumn: string,
  metadata: string | undefined,
  stored: Record<string, string>,
): { winners: Operation['values']; times: Record<string, string> } {
  const incoming = incomingTimes(metadata);
  const winners = values.filter(([column]) => {
    if (column === timesColumn) return false;
    const time = incoming[column];
    const previous = stored[column];
    return !(time && previous && Date.parse(time) < Date.parse(previous));
  });
  const times: Record<string, string> = { ...stored };
  for (const [column] of winners) if (incoming[column]) times[column] = incoming[column];
  return { winners, times };
}

function incomingTimes(metadata: string | undefined): Record<string, string> {
  if (!metadata) return {};
  try {
    const parsed = JSON.parse(metadata) as { field_timestamps?: unknown };
    const times = parsed?.field_timestamps;
    if (typeof times !== 'object' || times === null) return {};
    return Object.fromEntries(Object.entries(times).filter(([, t]) => typeof t === 'string' && !Number.isNaN(Date.parse(t)))) as Record<string, string>;
  } catch {
    return {};
  }
}
