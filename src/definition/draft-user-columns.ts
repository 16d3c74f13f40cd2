import { type CatalogTable, comparableTypes, type ForeignKey } from './catalog.ts';
import { wordsOf } from './draft-names.ts';
import type { UserIdMatches } from './draft-samples.ts';

/*
 * Which columns of a table name a user, and in what part: the one who made
 * the row (its owner), the one it was sent to, or one it is about or who
 * acted on it. Read from foreign keys, and from the words of the names
 * (user_id, author_id, sender, created_by, userId, …).
 */

/** A column that names the user: by a foreign key to the user key, or (`declared`) by its name and type, or its values. */
export interface UserColumn {
  column: string;
  /** Why it is taken to name a user though no foreign key says so; undefined where one does. */
  declared?: string;
}

/** Names of columns that hold who made or owns a row: user_id, owner_id, author_id, sender, creator_id, created_by, userId, … */
export const USER_WORDS =
  /_(user|owner|author|creator|sender|uploader|poster|requester)(_id)?_$|_(created|owned|uploaded|authored|posted)_by(_id)?_$/;
/** Columns that name the person a row is about or acted on, rather than the one who made it (a recipient is not one: a message or a mention is for them). */
export const TARGET =
  /_(target|other|reported|about|subject|reviewer|reviewed|admin|moderator|mod|invited|invitee|referred|blocked|followed|assignee|assigned|approver|approved|banned|muted|kicked|resolved|updated|modified|edited|deleted|closed|handled|last)_/;

/** A table's columns with a foreign key to the user key: the user's rows, by what the database itself says. */
export function userColumnsOf(
  table: CatalogTable,
  fks: readonly ForeignKey[],
  users: CatalogTable,
  key: string,
): UserColumn[] {
  return fks
    .filter(
      (f) => f.table === table.key && f.refTable === users.key && f.columns.length === 1 && f.refColumns[0] === key,
    )
    .map((f) => ({ column: f.columns[0]! }));
}

/**
 * Where no foreign key says so (an application that declares none, a column
 * holding users of other servers): a table's columns whose name says it holds
 * who made or owns the row (user_id, author_id, sender, created_by, userId, …)
 * and whose type can hold the user key, or whose sampled values are existing
 * users' ids (a text key). Each is declared, with a TODO; only for a table
 * that no foreign key already places, and never a column with a foreign key
 * of its own (it names that table's rows). A column naming the one a row is
 * about (a target, a moderator) is not one.
 */
export function inferredUserColumnsOf(
  table: CatalogTable,
  fks: readonly ForeignKey[],
  users: CatalogTable,
  key: string,
  userIds?: UserIdMatches,
): UserColumn[] {
  if (fks.some((f) => f.table === table.key && f.refTable === users.key)) return [];
  const keyColumn = users.columns.get(key)!;
  const singular = wordsOf(users.name).replace(/s_$/, '_').slice(1, -1);
  const referencing = new Set(fks.filter((f) => f.table === table.key).flatMap((f) => f.columns));
  const found: UserColumn[] = [];
  for (const [column, live] of table.columns) {
    if (referencing.has(column)) continue;
    const w = wordsOf(column);
    if (TARGET.test(w)) continue;
    const match = userIds?.get(table.key)?.get(column);
    // A name the values deny is not taken: Synapse's profiles.user_id holds the local part (ada), its full_user_id the id.
    const named = (USER_WORDS.test(w) || w === `_${singular}_id_`) && !(match && match.of > 0 && match.users === 0);
    const byValues = match !== undefined && match.of >= 3 && match.users * 2 >= match.of;
    if (!comparableTypes(live, keyColumn) || (!named && !byValues)) continue;
    const why = named
      ? `its name says it holds the id of the ${users.name} row of who made or owns it; no foreign key says so`
      : `${match!.users} of ${match!.of} sampled values were ${users.name} ids; no foreign key says so`;
    found.push({ column, declared: why });
  }
  return found;
}

export function declaredOf(owners: UserColumn[]): { ownerDeclared?: string } {
  const why = owners.find((o) => o.declared)?.declared;
  return why ? { ownerDeclared: why } : {};
}

/** The two columns of a message: who sent it and who it was sent to, each of whom may see it. */
const SENDER = /_(sender|from|creator|author)_/;
const RECIPIENT = /_(recipient|receiver|to)_/;
/**
 * Columns that name who acted on a row in a role over it (its moderator, the admin who
 * resolved it, its last editor), not a party to it: omitted from the row by default (an
 * application often keeps who from the person), and a table naming no one else is a log
 * of their acts.
 */
export const ACTOR =
  /_(mod|moderator|admin|resolver|resolved|reviewer|reviewed|approver|approved|handled|closed|banned|kicked|muted|deleted|updated|modified|edited|last)_/;
/**
 * A column named as the id of a user other than the row's maker (target_user_id, reviewer_id,
 * to_user_id, invited_by): the role word next to the id itself, so target_chain_id,
 * to_device_stream_id and relates_to_id are not.
 */
export const OTHER_USER_ID =
  /_(?:(?:target|reported|reviewer|invitee|assignee|approver|recipient|receiver|moderator|admin|member|participant)(?:_user)?_id|(?:other|to|from|last|about|subject|invited|referred|blocked|followed|assigned|approved|banned|muted|kicked)_user(?:_id)?|(?:reviewed|invited|referred|assigned|approved|banned|muted|kicked|resolved|updated|modified|edited|deleted|closed|handled)_by(?:_id)?)_$/;

/**
 * Which of a table's columns that name a user make a row the user's. One:
 * that one. A sender and a recipient: both (a message is for each to see).
 * Any other several (a block's blocker and blocked, a report's reporter and
 * reported, an application and its reviewing admin): the side that cannot
 * leak, the one who made the row (a column named for its maker: follower,
 * blocker, reporter, …; else the first that does not name a target, in the
 * table's order); the others are said as a TODO.
 */
export function ownerColumnsOf(table: CatalogTable, toUser: UserColumn[]): UserColumn[] {
  const order = [...table.columns.keys()];
  const columns = [...toUser].sort((a, b) => order.indexOf(a.column) - order.indexOf(b.column));
  if (columns.length === 1) return columns;
  const [a, b] = columns.map((c) => wordsOf(c.column));
  if (columns.length === 2 && ((SENDER.test(a!) && RECIPIENT.test(b!)) || (SENDER.test(b!) && RECIPIENT.test(a!))))
    return columns;
  return [
    columns.find((c) => MAKER.test(wordsOf(c.column))) ??
      columns.find((c) => !TARGET.test(wordsOf(c.column))) ??
      columns[0]!,
  ];
}

/** Columns named for the one who made a row of two people (a follow's follower, a block's blocker, a vote's voter). */
const MAKER =
  /_(follower|blocker|reporter|ignorer|inviter|muter|voter|liker|requester|subscriber|sender|author|creator|uploader|poster)_/;
