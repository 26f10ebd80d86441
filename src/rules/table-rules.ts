import type { TableConfig } from '../config/schema.ts';
import { jsonSchemaValidator } from './json-schema.ts';

/**
 * A writable table as configured: the client's name for it, where it lives in the database
 * and what may be written. Only configured tables are writable (default deny).
 */
export interface TableRule {
  /** The name the client uses (`type` of an entry). */
  clientName: string;
  /** The database table, `table` or `schema.table`. */
  dbTable: string;
  idColumn: string;
  /** Writable columns when configured; otherwise every column but generated ones and the key. */
  columns: ReadonlySet<string> | undefined;
  put: 'merge' | 'replace';
  apply: 'fast' | 'exact';
  onUnknownColumn: 'reject' | 'hold';
  /** Rows belong to the token's user through this column. */
  ownerColumn: string | undefined;
  /** Rows belong to whoever owns their parent: `through` links to `table` (a client name), owned by `column`. */
  owner: { through: string; table: string; column: string } | undefined;
  conflict: ConflictRule;
  /** DELETE marks the row through this column instead of removing it. */
  softDelete: string | undefined;
  /** Checks PUT and PATCH data; returns every problem, or none. */
  validate: DataValidator | undefined;
}

export type ConflictStrategy = 'last_write_wins' | 'version' | 'timestamp' | 'field_timestamps' | 'previous_values';

export interface ConflictRule {
  strategy: ConflictStrategy;
  /** version: the counter; timestamp: the client's time column; field_timestamps: the jsonb column of field times. */
  column: string | undefined;
  onConflict: 'reject' | 'skip';
}

/** Problems with an entry's data (`partial` for a PATCH, which carries changed columns only). */
export type DataValidator = (data: Record<string, unknown>, partial: boolean) => string[];

/** Where the server keeps per-field times under `field_timestamps` when no column is named. */
export const DEFAULT_FIELD_TIMESTAMPS_COLUMN = 'field_timestamps';

export class TableRules {
  private readonly byClientName: Map<string, TableRule>;

  constructor(tables: Record<string, TableConfig>) {
    this.byClientName = new Map(
      Object.entries(tables).map(([clientName, t]) => [
        clientName,
        {
          clientName,
          dbTable: t.table ?? clientName,
          idColumn: t.id_column,
          columns: t.columns ? new Set(t.columns) : undefined,
          put: t.put,
          apply: t.apply,
          onUnknownColumn: t.on_unknown_column,
          ownerColumn: t.owner_column,
          owner: t.owner,
          conflict: conflictRule(t.conflict),
          softDelete: t.soft_delete?.column,
          validate: t.json_schema ? jsonSchemaValidator(clientName, t.json_schema) : undefined,
        },
      ]),
    );
  }

  /** The rule for a client table name, or undefined when the table is not writable. */
  get(clientName: string): TableRule | undefined {
    return this.byClientName.get(clientName);
  }

  all(): TableRule[] {
    return [...this.byClientName.values()];
  }
}

function conflictRule(config: TableConfig['conflict']): ConflictRule {
  const strategy = (config?.strategy ?? 'last_write_wins') as ConflictStrategy;
  const column = config?.column ?? (strategy === 'field_timestamps' ? DEFAULT_FIELD_TIMESTAMPS_COLUMN : undefined);
  return { strategy, column, onConflict: config?.on_conflict ?? 'reject' };
}
