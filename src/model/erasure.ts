import type { AnonymizeStrategy } from './definition.ts';

/*
 * An erasure as it is carried out: the definition's erase rules resolved
 * against the live catalog (src/definition/resolve-erasure.ts), as the
 * export's entities are (entities.ts). SQL here is over the alias `t`, with
 * `:user` for the person's key, as a literal of the key's type.
 */

/** A column an erasure changes, and what it writes there. */
export interface ErasedColumn {
  /** Quoted, as SQL writes it. */
  column: string;
  /** Its name, for people (the receipt, messages). */
  name: string;
  strategy: AnonymizeStrategy;
  /** Its type as SQL names it: what a fixed text or the ghost's key is cast to. */
  sqlType: string;
}

export interface ErasureEntity {
  name: string;
  /** Its table, quoted. */
  table: string;
  /** Its primary key's columns, quoted: the order an anonymization walks, resumable. Empty: the table has none. */
  key: readonly string[];
  /** Their SQL types, in the same order: what a cursor kept as text is cast back to. */
  keyTypes: readonly string[];
  rule: 'delete' | 'anonymize' | 'keep';
  /** keep: why, and for how long (the receipt says it). */
  why?: string;
  /** anonymize: the columns, and what each becomes. */
  columns: readonly ErasedColumn[];
  /**
   * SQL, boolean over `t`: the row is the person's alone (theirs by its owner
   * columns, every other owner column empty; or hanging from such a row of its
   * parent). Null: none of its rows is the person's alone (a shared thing the
   * person is a member of).
   */
  scope: string | null;
  /** Rows that name the person beside another person (a message between two): only the person's columns change. */
  shared?: { where: string; columns: readonly ErasedColumn[] };
  /**
   * Other columns that point at the person's user row (a release's
   * created_by in a project others share): where they name the person in a
   * row that is not theirs alone, the ghost's key or null.
   */
  references?: { where: string; columns: readonly ErasedColumn[] }[];
  /** The person's membership rows of this entity's shared things, deleted. */
  memberships?: { table: string; where: string };
  /** The person's files its rows point at, in a bucket, bound to them by a key prefix: deleted with the rows (unless kept). */
  files: readonly ErasedFiles[];
  /** The rows of this entity also hold files that cannot be deleted (an https source, keys bound by no prefix): said in the receipt. */
  filesElsewhere: readonly string[];
  /** The person's own row (the user table). */
  isUserRow: boolean;
  /** delete: the rows of other entities its rows point at (an envelope's settings), deleted with each batch of its own. */
  deletesWith?: readonly DeletedWith[];
  /** Its rows are deleted with its parent's (deletesWith), not on their own: its parent points at them. */
  withParent?: boolean;
}

/**
 * Rows a deleted row points at and that hang from it (a `through` whose
 * relation runs from the parent to them: Envelope.documentMetaId names an
 * envelope's settings). They cannot go first, as rows that hang from others
 * do (the parent's foreign key may refuse it, or take the parent with them),
 * nor after on their own (with the parent gone, nothing says they were the
 * person's): each batch of the parent's deletes them, by the keys it
 * deleted, where no row of the parent points at them any more.
 */
export interface DeletedWith {
  entity: string;
  /** Its table, quoted. */
  table: string;
  /** The parent's table, quoted. */
  parentTable: string;
  /** Its columns the parent's `refs` hold, unquoted, in order. */
  columns: readonly string[];
  /** Their SQL types: what the parent's values (as text) are cast to. */
  types: readonly string[];
  /** The parent's columns that point at it, unquoted. */
  refs: readonly string[];
  /** What its own rows point at, deleted with them. */
  andThen: readonly DeletedWith[];
}

export interface ErasedFiles {
  /** The file rule's name (the export's path column). */
  name: string;
  source: string;
  /** SQL over `t`: the object key. */
  locator: string;
  /** SQL over `t`, boolean: the key starts with the prefix the definition binds it to. */
  owned: string;
}

export interface ErasurePlan {
  /** In the order they are erased: rows that hang from others first, the person's own row last. */
  entities: readonly ErasureEntity[];
  /** The user key's SQL type: `:user` is cast to it. */
  keyType: string;
  /** The ghost user's key, where the definition names one. */
  ghostUser?: string;
  /** The user table (quoted) and its key column (quoted): where the ghost must be, and is never erased. */
  users: { table: string; key: string };
}
