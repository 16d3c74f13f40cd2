/**
 * A definition: what leaves the database, for one application's schema
 * (definitions/sample.yaml is the default, sample-files.yaml the demo's). Parsed and validated by
 * parse.ts, checked against the live database by check.ts, and turned into
 * the export's queries by resolve.ts.
 */

export interface ColumnRule {
  /** The name in the export, and the table's column unless `derived`. */
  name: string;
  line: number;
  /** Exported, with what it means (README.txt, the data dictionary). */
  export?: string;
  /** Not exported, with why ("password hash", "internal"). */
  omit?: string;
  /**
   * Not a column of the table: `relationship` ("owner" or "member"), or
   * `members.<column>` (a column of the membership table).
   */
  derived?: string;
  /** Why a column whose name looks secret may be exported all the same. */
  notSecret?: string;
}

export interface MembersRule {
  /** The membership table: one row per (entity row, user). */
  table: string;
  /** Its column that references the entity. */
  column: string;
  /** Its column that references the user. */
  userColumn: string;
  /** The entity's column that `column` holds (default: the one its foreign key references, else the entity's one-column key). */
  references?: string;
  /** Its other columns, not exported, with why. */
  omit: Readonly<Record<string, string>>;
  /** Why no foreign key states these links (checked by columns and types instead). */
  declared?: string;
}

/**
 * What GDPR Art. 15(1) says the person must be told besides the copy, in
 * words written for them: given at the top of the definition and overridable
 * per entity. Every field but `recipients` is free text.
 */
export interface Processing {
  /** Why the data is processed (Art. 15(1)(a)). */
  purposes?: string;
  /** On what legal basis (Art. 6): consent, contract, legal obligation, legitimate interests, … */
  legalBasis?: string;
  /** Who receives it: named recipients where known, else categories (Art. 15(1)(c)). */
  recipients?: readonly string[];
  /** How long it is kept, or the criteria (Art. 15(1)(d)). */
  retention?: string;
  /** Where it came from: the person, the service, or someone else (Art. 15(1)(g)). */
  source?: string;
  /** Whether automated decisions or profiling use it (Art. 15(1)(h)). */
  automatedDecisions?: string;
  /** Transfers outside the EEA and their safeguard (Art. 15(2)). */
  transfers?: string;
}

/** The fields in the file's words and the article that asks for each (`exporter check` names them). */
export const PROCESSING_FIELDS: readonly { key: keyof Processing; yaml: string; article: string; title: string }[] = [
  { key: 'purposes', yaml: 'purposes', article: 'Art. 15(1)(a)', title: 'Why we use it' },
  { key: 'legalBasis', yaml: 'legal_basis', article: 'Art. 6(1)', title: 'Legal basis' },
  { key: 'recipients', yaml: 'recipients', article: 'Art. 15(1)(c)', title: 'Who receives it' },
  { key: 'retention', yaml: 'retention', article: 'Art. 15(1)(d)', title: 'How long we keep it' },
  { key: 'source', yaml: 'source', article: 'Art. 15(1)(g)', title: 'Where it comes from' },
  { key: 'automatedDecisions', yaml: 'automated_decisions', article: 'Art. 15(1)(h)', title: 'Automated decisions' },
  { key: 'transfers', yaml: 'transfers', article: 'Art. 15(2)', title: 'Transfers outside the EEA' },
];

export interface EntityRule {
  name: string;
  line: number;
  table: string;
  description: string;
  /** The exported column that names a row for a person (a project's name): the viewer shows it where another row refers to this one. */
  label?: string;
  /**
   * The row is the user's when one of these columns holds the user id (a
   * message: its sender or its recipient). `declared`: why no foreign key to
   * the user table says so (the column's type must match the user key's).
   */
  owner?: { columns: readonly string[]; declared?: string };
  /** …or when a membership row links it to the user. */
  members?: MembersRule;
  /**
   * The row is the user's when these columns (one, or several for a
   * composite key) hold the key of a row of another entity that is: its
   * `references` columns (default: those a foreign key on `columns` names,
   * else the entity's primary key). `declared`: why no foreign key says so.
   */
  through?: { entity: string; columns: readonly string[]; references?: readonly string[]; declared?: string };
  /** A total order (columns of the table): parts of a split entity hold the same rows in JSON and CSV. */
  orderBy: readonly string[];
  columns: readonly ColumnRule[];
  /** Columns that point at the user's files (uploads, media), each adding a path column to the export. */
  files: readonly FileRule[];
  /** Art. 15 information given for this entity, over the definition's own. */
  processing: Processing;
  /** What erasure does to its rows that are the person's alone (absent: the definition says nothing of erasure). */
  erase?: EraseRule;
}

/**
 * How one column of the person's rows changes when erasure keeps the row:
 * emptied, a fixed text, a keyed pseudonym (HMAC-SHA256 under
 * EXPORT_ERASE_HMAC_KEY: one person, one pseudonym everywhere; still personal
 * data while the key exists), or the ghost user's key in place of theirs.
 */
export type AnonymizeStrategy =
  | { kind: 'null' }
  | { kind: 'text'; text: string }
  | { kind: 'hmac' }
  | { kind: 'ghost' };

/**
 * What erasure (GDPR Art. 17) does to an entity's rows that are the person's
 * alone: deletes them, keeps them with some columns changed, or keeps them as
 * they are, saying why (Art. 17(3): an invoice kept for tax law).
 */
export type EraseRule =
  | { kind: 'delete'; line: number }
  | { kind: 'anonymize'; columns: Readonly<Record<string, AnonymizeStrategy>>; line: number }
  | { kind: 'keep'; why: string; line: number };

/** What every erasure of a definition shares: the ghost user that kept rows may point at instead of the person. */
export interface ErasureSettings {
  line: number;
  /** The key of the user row that stands in for erased people (GitLab's ghost user): it must exist. */
  ghostUser?: string;
}

/**
 * A file a row points at: an object key in a named source, or an https URL
 * on a host the source allows. The export gets a column named `name` holding
 * where the file is in the archive (files/<entity>/<row id>/<file name>).
 */
export interface FileRule {
  /** The path column's name in the export. */
  name: string;
  line: number;
  /** The file source (file_sources) it is read from. */
  source: string;
  /** The column holding the object key (an S3 source) … */
  key?: string;
  /** … or an https:// URL (an https source). */
  url?: string;
  /**
   * What every key (or URL) of this column must start with, `{column}`
   * standing for that column's value in the row (`avatars/{user_id}/`): a key
   * a user wrote that points elsewhere (at another user's upload, at an
   * archive) is never read. Written `key_prefix` or `url_prefix` in the file.
   */
  ownedPrefix?: string;
  /**
   * Where no prefix can bind the keys: why a key of this column can never
   * name another person's file, in words (`owner_bound` in the file: "keys
   * are made by the server from the row's id"). Without either, check fails.
   */
  ownerBound?: string;
  /** Optional columns: the original file name, its content type, its size in bytes. */
  nameColumn?: string;
  contentTypeColumn?: string;
  sizeColumn?: string;
  /** What the path column means, for README.txt. */
  export: string;
}

/** Where files are read from: a bucket (S3 API), or https URLs on allowed hosts. */
export type FileSourceRule =
  | {
      kind: 's3';
      name: string;
      line: number;
      bucket: string;
      /** Put before every key. */
      prefix: string;
      /** Another S3 endpoint than the export bucket's (credentials come from the environment, never the file). */
      endpoint?: string;
      region?: string;
      forcePathStyle?: boolean;
    }
  | { kind: 'https'; name: string; line: number; hosts: readonly string[] };

export interface Definition {
  /** Where it was read from, for messages. */
  file: string;
  userTable: string;
  /** The user table's key, which a request's user_id holds (default: its one-column primary key). */
  userKey?: string;
  /** Its columns the "ready" email is addressed with (the email is off without `userEmail`). */
  userEmail?: string;
  userName?: string;
  entities: readonly EntityRule[];
  fileSources: Readonly<Record<string, FileSourceRule>>;
  /** Tables that reference users or an entity and are deliberately not exported, with why. */
  leftOut: Readonly<Record<string, string>>;
  /** Art. 15 information for every entity (each may override it). */
  processing: Processing;
  /** `gdpr`: every entity must carry every Art. 15 field (`exporter check` fails on a missing one). */
  compliance?: 'gdpr';
  /** The definition's erasure settings (`erasure:`), where it has any. */
  erasure?: ErasureSettings;
}

/** `{column}` in a key_prefix or url_prefix: the row's value of that column. */
export const PLACEHOLDER = /\{([^{}]*)\}/g;
