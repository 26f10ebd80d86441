// The catalog queries behind `introspect`: a constant number of statements whatever the
// number of tables. Kept apart from the code that assembles their rows.

/** Tables the server may write: ordinary and partitioned tables outside system schemas. */
const USER_TABLES = `
  select c.oid, n.nspname, c.relname, c.relkind, c.relhasrules, c.relrowsecurity
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%'
    and n.nspname not like 'pg\\_temp\\_%'`;

export const SEARCH_PATH_SQL = `select current_schemas(false)::text[] as path, current_setting('server_version_num')::int as version`;

/** One row per column (or one row with null column fields for a table without columns). */
export const COLUMNS_SQL = `
  with rels as (${USER_TABLES})
  select r.oid as rel_oid, r.nspname::text as schema, r.relname::text as table_name, r.relkind::text as relkind,
    exists (select 1 from pg_trigger t where t.tgrelid = r.oid and not t.tgisinternal) as has_user_triggers,
    exists (select 1 from pg_constraint k where k.conrelid = r.oid and k.contype = 'c') as has_checks,
    r.relhasrules as has_rules,
    r.relrowsecurity as row_security,
    a.attname::text as column_name,
    format_type(a.atttypid, a.atttypmod) as type,
    a.atttypid as type_oid,
    a.atttypmod as typmod,
    not a.attnotnull as nullable,
    a.attgenerated <> '' as generated,
    a.attidentity::text as identity,
    (a.atthasdef or a.attidentity <> '') as has_default
  from rels r
  left join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  order by r.nspname, r.relname, a.attnum`;

/**
 * The given types and, transitively, the base types of domains and the element types of
 * arrays; with enum labels in sort order. `$1` is an oid[].
 */
export const TYPES_SQL = `
  with recursive wanted(oid) as (
    select unnest($1::oid[])
    union
    select next.oid
    from pg_type t
    join wanted w on w.oid = t.oid
    cross join lateral (values
      (case when t.typtype = 'd' then t.typbasetype end),
      (case when t.typcategory = 'A' then t.typelem end)
    ) as next(oid)
    where next.oid is not null and next.oid <> 0
  )
  select t.oid, t.typname::text as name, n.nspname::text as schema, t.typtype::text as typtype,
    t.typcategory::text as category, t.typbasetype as base_oid, t.typtypmod as base_typmod,
    case when t.typcategory = 'A' then t.typelem else 0 end as element_oid,
    case when t.typtype = 'e' then
      (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid)
    end as enum_labels
  from pg_type t
  join wanted w on w.oid = t.oid
  join pg_namespace n on n.oid = t.typnamespace`;

/**
 * Primary and foreign keys of the given tables (`$1` is an oid[]), with column names in
 * key order. The copies Postgres makes of a foreign key for each partition of a
 * partitioned *referenced* table (same referencing table, a parent constraint) are left
 * out: they are the same foreign key.
 */
export const KEYS_SQL = `
  select con.conrelid as rel_oid, con.contype::text as kind, con.conname::text as name,
    array(select a.attname::text from unnest(con.conkey) with ordinality k(num, i)
          join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.i) as columns,
    fn.nspname::text as ref_schema, fc.relname::text as ref_table,
    array(select a.attname::text from unnest(con.confkey) with ordinality k(num, i)
          join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.i) as ref_columns,
    con.confdeltype::text as on_delete, con.confupdtype::text as on_update
  from pg_constraint con
  left join pg_class fc on fc.oid = con.confrelid
  left join pg_namespace fn on fn.oid = fc.relnamespace
  where con.contype in ('p', 'f') and con.conrelid = any($1::oid[])
    and not exists (select 1 from pg_constraint parent
                    where parent.oid = con.conparentid and parent.conrelid = con.conrelid)
  order by con.conrelid, con.conname`;

/**
 * Unique indexes and exclusion constraints other than the primary key of the given tables
 * (`$1` is an oid[]): their columns, or null when an expression or a predicate may read
 * any column. Unique indexes made without a constraint are included.
 */
export const UNIQUE_SQL = `
  select i.indrelid as rel_oid,
    case when i.indexprs is null and i.indpred is null then
      array(select a.attname::text from unnest(i.indkey::int2[]) k(num)
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.num)
    end as columns
  from pg_index i
  where i.indrelid = any($1::oid[]) and (i.indisunique or i.indisexclusion) and not i.indisprimary
  order by i.indrelid, i.indexrelid`;
