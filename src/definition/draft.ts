import { kindOfType } from '../export/column-kinds.ts';
import type { Catalog, ForeignKey } from './catalog.ts';
import { SECRET_LOOKING } from './definition.ts';

/*
 * `exporter init`: which tables of the live database belong to a user, and
 * how, read from the catalog's foreign keys. draft-yaml.ts writes the plan
 * as a definition; every guess it makes is marked TODO there.
 */

/** A table the draft exports, and how its rows are the user's. */
export interface DraftEntity {
  table: string;
  /** The user's own row, rows with one or more columns naming the user, or rows reached through another entity. */
  how: 'user' | 'owner' | 'members' | 'through';
  /** owner (and user): the columns that name the user. */
  ownerColumns: string[];
  /** A membership table (its primary key is a column to this table and one to the user table). */
  members?: { table: string; column: string; userColumn: string };
  through?: { entity: string; column: string };
  /** Other ways its rows could be the user's, which a person must choose between (TODO). */
  otherPaths: string[];
  /** Its other columns that name a user, not taken as owners (TODO). */
  alsoUser?: string[];
}

export interface DraftPlan {
  userTable: string;
  userKey: string;
  /** In archive order: the user's row first, then by distance from it. */
  entities: DraftEntity[];
  /** Tables that reference an exported table and are left out by default (TODO), with why. */
  leftOut: Map<string, string>;
  /** Tables the definition cannot name (not plain lower-case SQL names): a person must deal with them. */
  unnamed: string[];
}

/** The exporter's own tables (sql/), which are never the application's data. */
const EXPORTER_TABLE = /^(data_export_|kysely_migration)/;
/** Tables that hold a login's secrets rather than what the person did: left out by default. */
const AUTH_TABLE = /(session|token|password|secret|credential|otp|api_key|oauth|captcha|verification)/;
const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/;

export class DraftError extends Error {
  override name = 'DraftError';
}

export function planDraft(catalog: Catalog, userTable: string): DraftPlan {
  if (!catalog.tables.has(userTable)) throw new DraftError(`no table named ${JSON.stringify(userTable)} in the current schema`);
  if (!PLAIN_NAME.test(userTable)) throw new DraftError(`${JSON.stringify(userTable)} is not a plain lower-case SQL name, which a definition can name`);
  const key = catalog.primaryKeys.get(userTable);
  if (key?.length !== 1) throw new DraftError(`${userTable} has no one-column primary key: a request names a user by one column`);
  const tables = [...catalog.tables.keys()].filter((t) => !EXPORTER_TABLE.test(t)).sort();
  const unnamed = tables.filter((t) => !PLAIN_NAME.test(t));
  const named = new Set(tables.filter((t) => PLAIN_NAME.test(t)));
  // Single-column foreign keys between the application's tables, none to the table itself (a parent row, a reply).
  const fks = catalog.foreignKeys.filter((f) => named.has(f.table) && named.has(f.refTable) && f.table !== f.refTable);
  const plan: DraftPlan = { userTable, userKey: key[0]!, entities: [{ table: userTable, how: 'user', ownerColumns: [key[0]!], otherPaths: [] }], leftOut: new Map(), unnamed };
  const covered = new Map<string, DraftEntity>([[userTable, plan.entities[0]!]]);
  /** Membership tables: decided (their entity names them), not entities of their own. */
  const membershipTables = new Set<string>();
  const leaveOut = (table: string) => {
    if (!AUTH_TABLE.test(table)) return false;
    plan.leftOut.set(table, 'it looks like login data (sessions, tokens, password resets), not what the person did');
    return true;
  };

  const { memberships, deferred } = addOwners(plan, covered, fks, named, catalog, leaveOut);
  for (const [of, tablesOf] of [...memberships].sort(([a], [b]) => a.localeCompare(b))) {
    const [first, ...rest] = tablesOf;
    let entity = covered.get(of);
    if (!entity && !leaveOut(of)) {
      entity = { table: of, how: 'members', ownerColumns: [], otherPaths: [] };
      plan.entities.push(entity);
      covered.set(of, entity);
    }
    if (!entity || entity.how === 'user') {
      // Memberships of a table left out, or of the user table itself (a follower of a person): the user's rows of that table, as an owner.
      for (const m of tablesOf) addOwner(plan, covered, m.table, [m.userColumn]);
      continue;
    }
    entity.members = first;
    membershipTables.add(first!.table);
    // One membership table per entity: any other is the user's rows of that table.
    for (const m of rest) addOwner(plan, covered, m.table, [m.userColumn]);
  }
  addThrough(plan, covered, fks, new Set([...named].filter((t) => !membershipTables.has(t))), catalog, leaveOut);
  // A row that names a user only as the one it is about (its reviewing admin, its moderator) is its maker's, reached
  // through another entity; reached no other way, it is that user's after all, and either way the choice is said.
  for (const { table, toUser } of deferred) {
    const entity = covered.get(table);
    if (entity) entity.alsoUser = toUser.map((f) => f.column);
    else if (!plan.leftOut.has(table)) addOwner(plan, covered, table, ownerColumnsOf(table, toUser, catalog));
  }
  for (const entity of plan.entities) entity.otherPaths.push(...otherPaths(entity, covered, fks, userTable));
  return plan;
}

/** The two columns of a message: who sent it and who it was sent to, each of whom may see it. */
const SENDER = /(^|_)(sender|from|creator|author)(_|$)/;
const RECIPIENT = /(^|_)(recipient|receiver|to)(_|$)/;
/** Columns that name the person a row is about or acted on, rather than the one who made it (a recipient is not one: a message or a mention is for them). */
const TARGET = /(^|_)(target|other|reported|about|subject|reviewer|reviewed|admin|moderator|mod|invited|invitee|referred|blocked|followed|assignee|approver|approved)(_|$)/;

/**
 * Which of a table's columns that name a user make a row the user's. One:
 * that one. A sender and a recipient: both (a message is for each to see).
 * Any other several (a block's blocker and blocked, a report's reporter and
 * reported, an application and its reviewing admin): the side that cannot
 * leak, the one who made the row (the first column that does not name a
 * target, in the table's order); the others are said as a TODO.
 */
function ownerColumnsOf(table: string, toUser: ForeignKey[], catalog: Catalog): string[] {
  const order = [...catalog.tables.get(table)!.keys()];
  const columns = toUser.map((f) => f.column).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  if (columns.length === 1) return columns;
  const [a, b] = columns;
  if (columns.length === 2 && ((SENDER.test(a!) && RECIPIENT.test(b!)) || (SENDER.test(b!) && RECIPIENT.test(a!)))) return columns;
  return [columns.find((c) => !TARGET.test(c)) ?? columns[0]!];
}

/**
 * The tables with a column naming the user: each the user's rows (owner), or
 * a membership of another table; deferred, a table whose every such column
 * names the one a row is about (an application's reviewing admin), which is
 * its maker's through another entity where one reaches it.
 */
function addOwners(plan: DraftPlan, covered: Map<string, DraftEntity>, fks: ForeignKey[], named: Set<string>, catalog: Catalog, leaveOut: (table: string) => boolean) {
  const memberships = new Map<string, { table: string; column: string; userColumn: string }[]>();
  const deferred: { table: string; toUser: ForeignKey[] }[] = [];
  for (const table of named) {
    if (table === plan.userTable) continue;
    const toUser = fks.filter((f) => f.table === table && f.refTable === plan.userTable);
    if (toUser.length === 0 || leaveOut(table)) continue;
    const membership = membershipOf(table, toUser, fks, catalog, plan.userTable);
    if (membership) {
      memberships.set(membership.of, [...(memberships.get(membership.of) ?? []), { table, column: membership.column, userColumn: membership.userColumn }]);
      continue;
    }
    if (toUser.every((f) => TARGET.test(f.column)) && fks.some((f) => f.table === table && f.refTable !== plan.userTable)) {
      deferred.push({ table, toUser });
      continue;
    }
    const owners = ownerColumnsOf(table, toUser, catalog);
    const entity: DraftEntity = { table, how: 'owner', ownerColumns: owners, alsoUser: toUser.map((f) => f.column).filter((c) => !owners.includes(c)), otherPaths: [] };
    plan.entities.push(entity);
    covered.set(table, entity);
  }
  return { memberships, deferred };
}

function addOwner(plan: DraftPlan, covered: Map<string, DraftEntity>, table: string, ownerColumns: string[]): void {
  if (covered.has(table)) return;
  const entity: DraftEntity = { table, how: 'owner', ownerColumns, otherPaths: [] };
  plan.entities.push(entity);
  covered.set(table, entity);
}

/** Names of tables whose rows make a person part of something (a project's members, a list's subscribers, a community's followers). */
const MEMBERSHIP_NAME = /(member|participant|collaborator|subscriber|follower|enrol|attendee)/;

/**
 * A membership table: named like one, and its primary key is exactly two
 * columns, one a foreign key to the user table, the other to another table
 * (project_members: project_id, user_id). Its rows say which rows of that
 * table are the user's; its other columns are the membership's (role, since
 * when). A table keyed the same way by another name (a like, a vote, a
 * block) is the user's own rows instead: the rows it points at are other
 * people's.
 */
function membershipOf(table: string, toUser: ForeignKey[], fks: ForeignKey[], catalog: Catalog, userTable: string) {
  const key = catalog.primaryKeys.get(table);
  if (key?.length !== 2 || toUser.length !== 1 || !MEMBERSHIP_NAME.test(table)) return undefined;
  const userColumn = toUser[0]!.column;
  const other = key.find((c) => c !== userColumn);
  const fk = fks.find((f) => f.table === table && f.column === other && f.refTable !== userTable);
  if (!key.includes(userColumn) || !fk || !catalog.primaryKeys.get(fk.refTable)) return undefined;
  return { of: fk.refTable, column: fk.column, userColumn };
}

/**
 * Every table that references an exported one, breadth first: the rows of
 * a user's project, then the rows of those. A table with several such
 * columns goes through the first (a NOT NULL one first); the others are
 * said as a TODO.
 */
function addThrough(plan: DraftPlan, covered: Map<string, DraftEntity>, fks: ForeignKey[], named: Set<string>, catalog: Catalog, leaveOut: (table: string) => boolean): void {
  for (let i = 0; i < plan.entities.length; i++) {
    const parent = plan.entities[i]!;
    if (parent.table === plan.userTable) continue;
    const children = fks.filter((f) => f.refTable === parent.table && named.has(f.table) && !covered.has(f.table) && !plan.leftOut.has(f.table));
    for (const fk of children.sort((a, b) => notNullFirst(catalog, a, b) || a.table.localeCompare(b.table))) {
      if (covered.has(fk.table) || plan.leftOut.has(fk.table) || leaveOut(fk.table)) continue;
      // The side that cannot leak: what hangs off a row the user shares with others (a project they are a member of,
      // a mailing list) is those others' as much as theirs; a table of people reached this way is other people.
      if (parent.members) {
        plan.leftOut.set(fk.table, `it references ${parent.table}, whose rows the user shares with other people (${parent.members.table}): its rows are theirs too`);
        continue;
      }
      if (looksLikePeople(catalog, fk.table)) {
        plan.leftOut.set(fk.table, 'it looks like a table of people (an email, password or user name column): other people');
        continue;
      }
      const entity: DraftEntity = { table: fk.table, how: 'through', ownerColumns: [], through: { entity: parent.table, column: fk.column }, otherPaths: [] };
      plan.entities.push(entity);
      covered.set(fk.table, entity);
    }
  }
}

function looksLikePeople(catalog: Catalog, table: string): boolean {
  return [...catalog.tables.get(table)!.keys()].some((c) => /^(email|email_address|username|user_name|password\w*)$/.test(c));
}

function notNullFirst(catalog: Catalog, a: ForeignKey, b: ForeignKey): number {
  const nullable = (f: ForeignKey) => (catalog.tables.get(f.table)?.get(f.column)?.nullable ? 1 : 0);
  return nullable(a) - nullable(b);
}

/** The other exported tables a table's foreign keys reach, each a path its rows could have been the user's by instead. */
function otherPaths(entity: DraftEntity, covered: Map<string, DraftEntity>, fks: ForeignKey[], userTable: string): string[] {
  if (entity.how === 'user') return [];
  const used = new Set<string>(entity.ownerColumns);
  if (entity.through) used.add(entity.through.column);
  return fks
    .filter((f) => f.table === entity.table && !used.has(f.column) && covered.has(f.refTable) && f.refTable !== userTable)
    .map((f) => `${f.column} (${f.refTable})`);
}

/** How a column of an exported table is drafted. */
export type ColumnDraft =
  | { as: 'export'; guessed: boolean; description: string; notSecret?: string }
  | { as: 'omit'; reason: string; todo: boolean }
  | { as: 'file'; role: 'key' | 'url'; exported: boolean; description: string };

/** Names of columns that hold where a file is stored (an object key, a storage path). */
const FILE_KEY = /(^|_)(object|storage|file|s3|blob|upload|attachment|media|image|pictrs)_?(key|path|alias)$/;
/** Names of text columns that may hold a file's URL (an avatar, an attachment). */
const FILE_URL = /(^|_)(url|uri|avatar|banner|icon|image|photo|picture|thumbnail|thumb|attachment)$/;

/** Whether a column is exported (described by its comment, or a guess from its name), omitted (secret, or of a type not exported yet) or a file's key or URL. */
export function draftColumn(catalog: Catalog, table: string, column: string, role: string | undefined): ColumnDraft {
  const live = catalog.tables.get(table)!.get(column)!;
  const text = live.type === 'text' || live.type === 'character varying';
  if (text && FILE_KEY.test(column)) return { as: 'file', role: 'key', exported: false, description: 'where the application stores a file' };
  const notSecret = SECRET_LOOKING.test(column) ? notSecretBecause(column, live.type) : undefined;
  if (SECRET_LOOKING.test(column) && notSecret === undefined) return { as: 'omit', reason: 'looks secret (its name)', todo: false };
  if (!kindOfType(live.type)) return { as: 'omit', reason: `its type (${live.sqlType}) cannot be exported yet`, todo: true };
  const description = live.comment?.trim() ? live.comment.trim().replace(/\s+/g, ' ') : guessDescription(column, live.type, role);
  if (text && FILE_URL.test(column)) return { as: 'file', role: 'url', exported: true, description };
  return { as: 'export', guessed: !live.comment?.trim() && role === undefined, description, ...(notSecret ? { notSecret } : {}) };
}

/** Whether a column whose name looks secret may be exported all the same. */
export function isDraftSecret(column: string, type: string): boolean {
  return SECRET_LOOKING.test(column) && notSecretBecause(column, type) === undefined;
}

/**
 * Why a name that looks secret is not one, where that is sure: a yes-or-no
 * flag (totp_2fa_enabled, private_messages_enabled, has_password) is not
 * the secret it names, and a public key is published by design. Not so
 * sure, and omitted: everything else (totp_2fa_secret, private_key,
 * password_encrypted, a token, even one that is a primary key).
 */
function notSecretBecause(column: string, type: string): string | undefined {
  if (type === 'boolean') return 'a yes-or-no setting, not the secret it names';
  if (/(^|_)public_?key($|_)/.test(column) && !/(private|secret|password|token|salt|hash)/.test(column)) return 'a public key, published by design';
  return undefined;
}

/** A description from a column's name and type: a guess a person should read. */
function guessDescription(column: string, type: string, role: string | undefined): string {
  if (role) return role;
  const words = column.replace(/_+/g, ' ').trim();
  const sentence = words.charAt(0).toUpperCase() + words.slice(1);
  const what = type === 'timestamp with time zone' ? 'a date and time' : type === 'boolean' ? 'yes or no' : type.includes('json') ? 'JSON' : undefined;
  return what ? `${sentence} (${what}).` : `${sentence}.`;
}
