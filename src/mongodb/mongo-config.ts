import type { WritepathConfig } from '../config/schema.ts';
import type { Hooks } from '../core/hooks.ts';
import { MONGO_CONFLICT_STRATEGIES } from './conflict.ts';
import { DEFAULT_FIELD_TIMESTAMPS_COLUMN } from '../rules/table-rules.ts';
import { mongoTable } from './mongo-tables.ts';

/** Whether a database URL names MongoDB. */
export function isMongoUrl(url: string): boolean {
  return url.startsWith('mongodb://') || url.startsWith('mongodb+srv://');
}

/**
 * What in a configuration the MongoDB Store cannot honour, each a start problem: an option
 * that would otherwise be silently ignored must stop the start instead.
 */
export function mongoConfigProblems(config: WritepathConfig, hooks?: Hooks): string[] {
  const problems: string[] = [];
  if (config.auth?.postgres_role) problems.push('auth.postgres_role: row-level security mode needs Postgres; remove it for a mongodb:// URL');
  const collections = new Map<string, { clientName: string; types: string }>();
  for (const [clientName, table] of Object.entries(config.tables)) {
    const where = `tables.${clientName}`;
    const info = mongoTable(clientName, table, problems);
    const strategy = table.conflict?.strategy;
    if (strategy && !MONGO_CONFLICT_STRATEGIES.has(strategy)) {
      problems.push(`${where}.conflict: the strategy ${strategy} is not supported on MongoDB (${[...MONGO_CONFLICT_STRATEGIES].join(', ')} are)`);
    }
    const conflictColumn = table.conflict?.column ?? (strategy === 'field_timestamps' ? DEFAULT_FIELD_TIMESTAMPS_COLUMN : undefined);
    if (strategy === 'field_timestamps' && info.declared && !['object', 'any'].includes(info.types.get(conflictColumn!) ?? 'any')) {
      problems.push(`${where}.conflict.column: ${conflictColumn} holds the field times, an embedded document: declare it object`);
    }
    for (const [key, field] of [
      ['owner_column', table.owner_column],
      ['owner.through', table.owner?.through],
      ['conflict.column', conflictColumn],
      ['soft_delete.column', table.soft_delete?.column],
    ] as const) {
      if (field !== undefined && !info.columns.has(field)) problems.push(`${where}.${key}: ${field} is not a declared field (add it to types or columns)`);
    }
    if (hooks?.tables?.[clientName]?.handlers) problems.push(`${where}: operation handlers run SQL and need Postgres`);
    const seen = collections.get(info.name);
    const types = JSON.stringify([...info.types].sort());
    if (seen && seen.types !== types) problems.push(`${where}: collection ${info.name} is also tables.${seen.clientName}, with other types`);
    else collections.set(info.name, { clientName, types });
  }
  return problems;
}
