import { sql } from 'kysely';
import type { Db } from '../db/connect.ts';
import { TYPE_FAMILIES } from '../model/database-types.ts';
import { parseTableRef, type TableKey, tableKey, writeTableRef } from '../model/identifiers.ts';

export interface CatalogColumn {
  /** As information_schema's data_type names it: "uuid", "text", "timestamp with time zone", "ARRAY", "USER-DEFINED", … (a domain as its base type). */
  type: string;
  /** The type as SQL names it (format_type: character varying(64), citext, a domain's name): what a value is cast to. */
  sqlType: string;
  nullable: boolean;
  /** COMMENT ON COLUMN, where there is one (exporter init drafts descriptions from it). */
  comment: string | null;
}

/** An ordinary or partitioned table (its partitions are not tables of their own here), a view, a foreign table, a materialized view. */
export type RelationKind = 'table' | 'partitioned' | 'view' | 'foreign' | 'matview';

export interface CatalogTable {
  key: TableKey;
  schema: string;
  name: string;
  kind: RelationKind;
  /** In the table's order. */
  columns: ReadonlyMap<string, CatalogColumn>;
  /** Its primary key's columns, in order (empty when it has none). */
  primaryKey: readonly string[];
  /**
   * Its columns that are unique on their own (a user table may be keyed by
   * one instead of its primary key: a request names a user by a value that
   * is never null, and among values that are not null each is one row's).
   */
  uniqueColumns: readonly string[];
  /** Every unique key (a constraint or a unique index, neither partial nor on expressions), of one column or several: where its columns are not null, one order of its rows. */
  uniqueKeys: readonly (readonly string[])[];
  /** The key columns of every index on it, unique or not (neither partial nor on expressions), in order: what a lookup by a foreign key can use. */
  indexes: readonly (readonly string[])[];
  /** COMMENT ON TABLE. */
  comment: string | null;
}

/** A foreign key, of one column or several (a composite key), from one table to another. */
export interface ForeignKey {
  table: TableKey;
  columns: readonly string[];
  refTable: TableKey;
  refColumns: readonly string[];
  /** What deleting a referenced row does to the referencing ones (pg_constraint.confdeltype): an erasure must know a cascade. */
  onDelete?: 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';
}

/** The live database, as far as a definition needs it. */
export interface Catalog {
  tables: ReadonlyMap<TableKey, CatalogTable>;
  foreignKeys: readonly ForeignKey[];
  /** The session's search path, first schema first: an unqualified name is the first schema's that has it. */
  searchPath: readonly string[];
}

/**
 * Reads every table of every schema the session can see (but PostgreSQL's
 * own), by OID: a table is its schema and its name, never its name alone
 * (`legacy.users` is not `public.users`). A partition is not a table here:
 * its rows are its partitioned parent's, exported once, by the parent; its
 * foreign keys are the parent's.
 */
export async function readCatalog(db: Db): Promise<Catalog> {
  const { rows: columns } = await sql<{
    schema: string;
    name: string;
    relkind: string;
    column: string;
    dataType: string;
    sqlType: string;
    nullable: boolean;
    comment: string | null;
    tableComment: string | null;
  }>`
    select n.nspname as schema, c.relname as name, c.relkind, a.attname as column, not a.attnotnull as nullable,
           format_type(a.atttypid, a.atttypmod) as sql_type,
           case when bt.typcategory = 'A' then 'ARRAY'
                when bn.nspname = 'pg_catalog' then format_type(bt.oid, null)
                else 'USER-DEFINED' end as data_type,
           col_description(c.oid, a.attnum) as comment, obj_description(c.oid, 'pg_class') as table_comment
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_type t on t.oid = a.atttypid
      join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
      join pg_namespace bn on bn.oid = bt.typnamespace
     where c.relkind in ('r', 'p', 'v', 'f', 'm') and not c.relispartition
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
     order by n.nspname, c.relname, a.attnum`.execute(db);
  const tables = new Map<TableKey, CatalogTable & { columns: Map<string, CatalogColumn> }>();
  for (const c of columns) {
    const key = tableKey(c.schema, c.name);
    if (!tables.has(key)) {
      tables.set(key, {
        key,
        schema: c.schema,
        name: c.name,
        kind: KINDS[c.relkind]!,
        columns: new Map(),
        primaryKey: [],
        uniqueColumns: [],
        uniqueKeys: [],
        indexes: [],
        comment: c.tableComment,
      });
    }
    tables
      .get(key)!
      .columns.set(c.column, { type: c.dataType, sqlType: c.sqlType, nullable: c.nullable, comment: c.comment });
  }
  const { rows: keys } = await sql<{
    schema: string;
    name: string;
    contype: string;
    columns: string[];
    partitionChild: boolean;
    refSchema: string | null;
    refName: string | null;
    refColumns: string[] | null;
    onDelete: ForeignKey['onDelete'] | null;
  }>`
    select n.nspname as schema, cl.relname as name, c.contype,
           array(select a.attname::text from unnest(c.conkey) with ordinality k(col, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.col order by k.i) as columns,
           rn.nspname as ref_schema, rcl.relname as ref_name,
           case c.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                              when 'n' then 'set null' when 'd' then 'set default' end as on_delete,
           case when c.contype = 'f' then array(select a.attname::text from unnest(c.confkey) with ordinality k(col, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.col order by k.i) end as ref_columns
      from pg_constraint c
      join pg_class cl on cl.oid = c.conrelid
      join pg_namespace n on n.oid = cl.relnamespace
      left join pg_class rcl on rcl.oid = c.confrelid
      left join pg_namespace rn on rn.oid = rcl.relnamespace
     where c.contype in ('p', 'u', 'f') and not cl.relispartition and (rcl.oid is null or not rcl.relispartition)
       and n.nspname not in ('pg_catalog', 'information_schema')
     order by n.nspname, cl.relname, c.conname`.execute(db);
  const foreignKeys: ForeignKey[] = [];
  for (const k of keys) {
    const table = tables.get(tableKey(k.schema, k.name));
    if (!table) continue;
    if (k.contype === 'p') (table as { primaryKey: readonly string[] }).primaryKey = k.columns;
    else if (k.contype === 'u' && k.columns.length === 1) (table.uniqueColumns as string[]).push(k.columns[0]!);
    else if (k.contype === 'f' && k.refSchema !== null && k.refName !== null && k.refColumns) {
      foreignKeys.push({
        table: table.key,
        columns: k.columns,
        refTable: tableKey(k.refSchema, k.refName),
        refColumns: k.refColumns,
        ...(k.onDelete ? { onDelete: k.onDelete } : {}),
      });
    }
  }
  await readIndexes(db, tables);
  const { rows: path } = await sql<{ schemas: string[] }>`select current_schemas(false)::text[] as schemas`.execute(db);
  return { tables, foreignKeys, searchPath: path[0]!.schemas };
}

/** Every index of every table; a unique one that is no constraint (CREATE UNIQUE INDEX, a Rails or Prisma habit) keys a table as well. */
async function readIndexes(db: Db, tables: ReadonlyMap<TableKey, CatalogTable>): Promise<void> {
  const { rows: indexes } = await sql<{ schema: string; name: string; columns: string[]; unique: boolean }>`
    select n.nspname as schema, cl.relname as name, i.indisunique as unique,
           array(select a.attname::text from unnest(i.indkey[0:i.indnkeyatts - 1]) with ordinality k(col, o) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.col order by k.o) as columns
      from pg_index i
      join pg_class cl on cl.oid = i.indrelid
      join pg_namespace n on n.oid = cl.relnamespace
     where i.indpred is null and i.indexprs is null and not (0 = any (i.indkey[0:i.indnkeyatts - 1]))
       and n.nspname not in ('pg_catalog', 'information_schema')
     order by n.nspname, cl.relname, i.indnkeyatts, i.indexrelid`.execute(db);
  for (const ix of indexes) {
    const table = tables.get(tableKey(ix.schema, ix.name));
    if (!table) continue;
    (table.indexes as (readonly string[])[]).push(ix.columns);
    if (!ix.unique) continue;
    if (ix.columns.length === 1 && !table.uniqueColumns.includes(ix.columns[0]!))
      (table.uniqueColumns as string[]).push(ix.columns[0]!);
    (table.uniqueKeys as (readonly string[])[]).push(ix.columns);
  }
}

const KINDS: Record<string, RelationKind> = { r: 'table', p: 'partitioned', v: 'view', f: 'foreign', m: 'matview' };

/** The table a definition's name for it means (`users`, `auth.users`, `"User"`): the first on the search path that has an unqualified name. */
export function findTable(catalog: Catalog, ref: string): CatalogTable | undefined {
  const parsed = parseTableRef(ref);
  if (!parsed) return undefined;
  if (parsed.schema !== undefined) return catalog.tables.get(tableKey(parsed.schema, parsed.name));
  for (const schema of catalog.searchPath) {
    const table = catalog.tables.get(tableKey(schema, parsed.name));
    if (table) return table;
  }
  return undefined;
}

/** How a definition names this table (schema-qualified unless it is in the first schema of the search path). */
export function refOf(catalog: Catalog, table: CatalogTable): string {
  return writeTableRef(table.schema, table.name, catalog.searchPath[0] ?? 'public');
}

/** The foreign keys from `table` whose columns are exactly `columns` (in order). */
export function foreignKeysOn(catalog: Catalog, table: TableKey, columns: readonly string[]): ForeignKey[] {
  return catalog.foreignKeys.filter(
    (f) => f.table === table && f.columns.length === columns.length && f.columns.every((c, i) => c === columns[i]),
  );
}

/** Whether values of two columns' types can name the same thing: the same type, or types of one family (text and varchar, integer and bigint). */
export function comparableTypes(a: CatalogColumn, b: CatalogColumn): boolean {
  const family = (c: CatalogColumn) => TYPE_FAMILIES.find((f) => f.includes(c.type)) ?? [c.sqlType];
  return family(a).includes(b.type) || family(a).includes(b.sqlType) || a.sqlType === b.sqlType;
}
