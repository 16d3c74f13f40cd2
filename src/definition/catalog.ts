import { sql } from 'kysely';
import type { Db } from '../db/connect.ts';

export interface CatalogColumn {
  /** information_schema's data_type: "uuid", "text", "timestamp with time zone", … */
  type: string;
  /** The type as SQL names it (format_type: character varying(64), citext, a domain's name): what a value is cast to. */
  sqlType: string;
  nullable: boolean;
  /** COMMENT ON COLUMN, where there is one (exporter init drafts descriptions from it). */
  comment: string | null;
}

export interface ForeignKey {
  table: string;
  column: string;
  refTable: string;
  refColumn: string;
}

/** The live database, as far as a definition needs it: tables, their columns and types, single-column foreign keys. */
export interface Catalog {
  tables: ReadonlyMap<string, ReadonlyMap<string, CatalogColumn>>;
  foreignKeys: readonly ForeignKey[];
  /** Each table's primary key columns (a file's folder in the archive is its row's key). */
  primaryKeys: ReadonlyMap<string, readonly string[]>;
  /** COMMENT ON TABLE, for the tables that have one. */
  tableComments: ReadonlyMap<string, string>;
}

/** Reads the tables of the current schema (the application's, where the exporter's own tables live too). */
export async function readCatalog(db: Db): Promise<Catalog> {
  const { rows: columns } = await sql<{ tableName: string; columnName: string; dataType: string; sqlType: string; isNullable: string; comment: string | null; tableComment: string | null }>`
    select c.table_name, c.column_name, c.data_type, c.is_nullable,
           format_type(a.atttypid, a.atttypmod) as sql_type,
           col_description(a.attrelid, a.attnum) as comment, obj_description(a.attrelid, 'pg_class') as table_comment
      from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      join pg_attribute a on a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass and a.attname = c.column_name
     where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
     order by c.table_name, c.ordinal_position`.execute(db);
  const tables = new Map<string, Map<string, CatalogColumn>>();
  const tableComments = new Map<string, string>();
  for (const c of columns) {
    if (!tables.has(c.tableName)) tables.set(c.tableName, new Map());
    tables.get(c.tableName)!.set(c.columnName, { type: c.dataType, sqlType: c.sqlType, nullable: c.isNullable === 'YES', comment: c.comment });
    if (c.tableComment !== null) tableComments.set(c.tableName, c.tableComment);
  }
  const { rows: foreignKeys } = await sql<ForeignKey>`
    select cl.relname as table, a.attname as column, rcl.relname as ref_table, ra.attname as ref_column
      from pg_constraint c
      join pg_class cl on cl.oid = c.conrelid
      join pg_namespace n on n.oid = cl.relnamespace
      join pg_class rcl on rcl.oid = c.confrelid
      cross join lateral unnest(c.conkey, c.confkey) as k(col, refcol)
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.col
      join pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = k.refcol
     where c.contype = 'f' and n.nspname = current_schema() and cardinality(c.conkey) = 1`.execute(db);
  const { rows: keys } = await sql<{ table: string; columns: string[] }>`
    select cl.relname as table, array(select a.attname::text from unnest(c.conkey) with ordinality k(col, i)
                                       join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.col order by k.i) as columns
      from pg_constraint c
      join pg_class cl on cl.oid = c.conrelid
      join pg_namespace n on n.oid = cl.relnamespace
     where c.contype = 'p' and n.nspname = current_schema()`.execute(db);
  return { tables, foreignKeys, primaryKeys: new Map(keys.map((k) => [k.table, k.columns])), tableComments };
}
