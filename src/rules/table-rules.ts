import type { TableConfig } from '../config/schema.ts';

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
}

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
