import type { CatalogTable, ForeignKey } from './catalog.ts';

/*
 * What `exporter init` decides before it writes anything: which tables are
 * the user's and how (draft.ts, draft-owners.ts and draft-parents.ts decide;
 * draft-yaml.ts writes the definition from it).
 */

/** A table the draft exports, and how its rows are the user's. */
export interface DraftEntity {
  table: CatalogTable;
  /** Its name in the definition and the archive (json/<name>.json): the table's, made a plain lower-case name, unique. */
  name: string;
  /** The user's own row, rows with one or more columns naming the user, rows a membership links, or rows reached through another entity. */
  how: 'user' | 'owner' | 'members' | 'through';
  /** owner (and user): the columns that name the user. */
  ownerColumns: string[];
  /** owner: why no foreign key says so, where none does (a TODO). */
  ownerDeclared?: string;
  /** A membership table (its primary key is a column to this table and one to the user table). */
  members?: { table: CatalogTable; column: string; userColumn: string };
  /** The parent entity, the columns that hold its key, and those columns of the parent. */
  through?: { entity: DraftEntity; columns: readonly string[]; references: readonly string[]; pointedAt?: boolean };
  /** Other ways its rows could be the user's, which a person must choose between (TODO). */
  otherPaths: string[];
  /** Its other columns that name a user, not taken as owners (TODO). */
  alsoUser?: string[];
}

/** A table the draft could not place, and what in it looks like a relation (TODO). */
export interface Unplaced {
  table: CatalogTable;
  hints: string[];
}

export interface DraftPlan {
  userTable: CatalogTable;
  userKey: string;
  /** In archive order: the user's row first, then by distance from it. */
  entities: DraftEntity[];
  /** Tables that reference an exported table and are left out by default (TODO), with why. */
  leftOut: Map<string, { table: CatalogTable; why: string; people?: boolean }>;
  /** Tables with a column that looks like it names a user or an exported row, which the draft could not place (TODO). */
  unplaced: Unplaced[];
}

/** A plan being drafted (planDraft): what it placed so far, and the two ways it decides on a table. */
export interface Drafting {
  plan: DraftPlan;
  /** The tables exported so far, each with its entity. */
  covered: Map<string, DraftEntity>;
  /** Foreign keys between the application's tables, none to the table itself. */
  fks: readonly ForeignKey[];
  users: CatalogTable;
  /** The user table's key. */
  key: string;
  /** Leaves the table out where it looks like login data; whether it did. */
  leaveOut: (table: CatalogTable) => boolean;
  /** Exports the table: a new entity of the plan, and covered. */
  entity: (table: CatalogTable, how: DraftEntity['how'], more?: Partial<DraftEntity>) => DraftEntity;
}
