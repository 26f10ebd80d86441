import type { TableInfo } from '../core/schema.ts';
import type { TableRules } from '../rules/table-rules.ts';

type PrimaryKeyed = TableInfo & { primaryKey?: string[] };

/**
 * The configured tables checked against the live schema at start: an operator's mistake
 * must stop the start, listed in full, rather than turn users' writes into rejections.
 */
export function checkTables(rules: TableRules, findTable: (name: string) => PrimaryKeyed | undefined): string[] {
  const problems: string[] = [];
  for (const rule of rules.all()) {
    const where = `tables.${rule.clientName}`;
    const table = findTable(rule.dbTable);
    if (!table) {
      problems.push(`${where}: table ${rule.dbTable} does not exist in the database`);
      continue;
    }
    if (!table.columns.has(rule.idColumn)) {
      problems.push(`${where}: key column ${rule.idColumn} does not exist in ${rule.dbTable} (set id_column)`);
    } else if (table.primaryKey && (table.primaryKey.length !== 1 || table.primaryKey[0] !== rule.idColumn)) {
      problems.push(`${where}: ${rule.dbTable} needs ${rule.idColumn} as its primary key (it has ${table.primaryKey.join(', ') || 'none'})`);
    }
    if (rule.ownerColumn && !table.columns.has(rule.ownerColumn)) {
      problems.push(`${where}.owner_column: ${rule.ownerColumn} does not exist in ${rule.dbTable}`);
    }
    if (rule.owner) {
      if (!table.columns.has(rule.owner.through)) problems.push(`${where}.owner.through: ${rule.owner.through} does not exist in ${rule.dbTable}`);
      const parentRule = rules.get(rule.owner.table);
      const parent = parentRule && findTable(parentRule.dbTable);
      if (parent && !parent.columns.has(rule.owner.column)) {
        problems.push(`${where}.owner.column: ${rule.owner.column} does not exist in ${parentRule.dbTable}`);
      }
    }
    for (const name of rule.columns ?? []) {
      const column = table.columns.get(name);
      if (!column) problems.push(`${where}.columns: ${name} does not exist in ${rule.dbTable}`);
      else if (column.generated) problems.push(`${where}.columns: ${name} is a generated column and cannot be written`);
      else if (name === rule.idColumn) problems.push(`${where}.columns: ${name} is the key column; leave it out`);
    }
  }
  return problems;
}
