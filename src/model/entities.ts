/**
 * An entity as the export reads it: the columns an archive holds and which
 * rows belong to the user. Made from a definition file checked against the
 * live database (src/definition/); anything the definition does not export
 * (password_hash, a token column added next year) is never exported, because
 * every query is built from these lists and none selects `*`.
 */

import type { ColumnKind } from './column-kinds.ts';
import type { Processing } from './definition.ts';

export type { ColumnKind };

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
  /** For a column that says where a file is in the archive: SQL for the key or URL it is read from (the path is null for a file the archive does not hold, queries.ts PathsKept). */
  fileLocator?: string;
}

/** A file a row points at, as the export reads it (from a definition's `files`). */
export interface ExportFile {
  /** The path column (an ExportColumn of the entity too). */
  column: string;
  /** The file source's name (file_sources in the definition). */
  source: string;
  /** SQL over alias `t`: the object key or URL. */
  locator: string;
  /** SQL, boolean: the locator starts with the prefix the definition binds it to (key_prefix, url_prefix); true where it binds none. */
  owned: string;
  /** SQL: files/<entity>/<row key>/<safe name>, unique in the archive; null when the row has no file. */
  path: string;
  /** SQL, when the definition names such a column: the content type, the size in bytes. */
  contentType?: string;
  size?: string;
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
  /** The files its rows point at, written under files/<name>/. */
  files: readonly ExportFile[];
  /** The exported column that names a row for a person (the definition's `label`). */
  label?: string;
  /** The exported column that tells its rows apart (the table's one-column primary key), where it is exported. */
  key?: string;
  /** Its exported columns that hold the key of another entity's row (from the database's foreign keys): the viewer shows that row's label. */
  references?: readonly ExportReference[];
  /** Why its rows are the user's by a relation no foreign key states (the definition's `declared`): README.txt says so. */
  declared?: string;
  /** What GDPR Art. 15(1) says the person is told of it (the definition's, the entity's over the file's); absent when the definition says none. */
  processing?: Processing;
}

/** A column whose value is the key of a row of another entity. */
export interface ExportReference {
  column: string;
  entity: string;
}

/** Where a user is: the table of users and its key (a request names the key, as text). */
export interface UserTable {
  /** Its quoted, schema-qualified name, as SQL writes it (src/model/identifiers.ts). */
  table: string;
  /** As the definition names it, for people. */
  ref: string;
  idColumn: string;
  /** The key's SQL type (format_type: uuid, integer, bigint, text, character varying(64), …): a request's user id is cast to it. */
  keyType: string;
  /** The columns the "ready" email is addressed with; no email without `emailColumn`. */
  emailColumn?: string;
  nameColumn?: string;
}
