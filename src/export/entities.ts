/**
 * An entity as the export reads it: the columns an archive holds and which
 * rows belong to the user. Made from a definition file checked against the
 * live database (src/definition/); anything the definition does not export
 * (password_hash, a token column added next year) is never exported, because
 * every query is built from these lists and none selects `*`.
 */

export type ColumnKind = 'uuid' | 'text' | 'integer' | 'bigint' | 'numeric' | 'boolean' | 'timestamptz' | 'jsonb';

export interface ExportColumn {
  /** The name in the export: the JSON key and the CSV header (snake_case, as in the database). */
  name: string;
  kind: ColumnKind;
  /** SQL for the value, over the aliases of `from`; defaults to `t.<name>`. */
  sql?: string;
  /** What the column means, for README.txt. */
  description: string;
  /** Whether the value can be null (schema.json); unknown when not given. */
  nullable?: boolean;
}

export interface ExportEntity {
  /** The file name stem: json/<name>.json, csv/<name>.csv. */
  name: string;
  description: string;
  columns: readonly ExportColumn[];
  /**
   * FROM and WHERE for the user's rows. `:user` stands for the user id
   * literal; `my_projects` is the set of the user's project ids (owned or member).
   */
  from: string;
  /** A total order, so that the same rows split into the same numbered parts in JSON and CSV. */
  orderBy: string;
}

/** Where a user is: the table of users and its id column (a request names the id). */
export interface UserTable {
  table: string;
  idColumn: string;
}
