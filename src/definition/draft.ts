import { type Catalog, type CatalogTable, comparableTypes, type ForeignKey, findTable } from './catalog.ts';
import { chooseParents, otherPathsOfOwners, placeDetails } from './draft-parents.ts';
import type { DraftEntity, DraftPlan, Unplaced } from './draft-plan.ts';
import type { UserIdMatches } from './draft-samples.ts';

/*
 * `exporter init`: which tables of the live database belong to a user, and
 * how: read from the catalog's foreign keys (one column or several), and,
 * where an application declares none, from the names and values of the
 * columns that hold a user's id (drafted as declared relations, each with a
 * TODO). draft-yaml.ts writes the plan as a definition; every guess is
 * marked TODO there, and what it could not place is listed.
 */

/** The exporter's own tables (sql/), which are never the application's data. */
const EXPORTER_TABLE = /^data_export_/;
/** Tables that hold a login's secrets rather than what the person did: left out by default. */
const AUTH_TABLE =
  /(session|token|password|secret|credential|otp|api_key|oauth|captcha|verification|webauthn|mfa|two_factor|refresh)/;

export class DraftError extends Error {
  override name = 'DraftError';
}

/** A name's words: camelCase split, lower-case, underscores around (`_user_id_` for userId). */
export const wordsOf = (name: string) =>
  `_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')}_`;

/**
 * The user table and its key: `--user-key`, else its one-column primary key.
 * The key must tell users apart: the primary key, or a unique column.
 */
export function draftUserTable(catalog: Catalog, ref: string, userKey?: string): { users: CatalogTable; key: string } {
  const users = findTable(catalog, ref);
  if (!users)
    throw new DraftError(
      `no table named ${JSON.stringify(ref)} (name it as schema.table where it is not on the search path: ${catalog.searchPath.join(', ')})`,
    );
  if (users.kind !== 'table' && users.kind !== 'partitioned')
    throw new DraftError(`${ref} is a ${users.kind}, not a table`);
  const unique = [...(users.primaryKey.length === 1 ? [users.primaryKey[0]!] : []), ...users.uniqueColumns];
  if (userKey !== undefined) {
    if (!users.columns.has(userKey))
      throw new DraftError(`--user-key: ${ref} has no column ${JSON.stringify(userKey)}`);
    if (!unique.includes(userKey))
      throw new DraftError(
        `--user-key: ${ref}.${userKey} is not unique (a primary key, or a unique constraint or index on it alone): two users could share an id${unique.length ? `; these are: ${unique.join(', ')}` : ''}`,
      );
    return { users, key: userKey };
  }
  if (users.primaryKey.length === 1) return { users, key: users.primaryKey[0]! };
  const hint =
    users.uniqueColumns.length > 0
      ? `; name one with --user-key (unique: ${users.uniqueColumns.join(', ')})`
      : '; add one, or a unique column, and name it with --user-key';
  throw new DraftError(`${ref} has no one-column primary key: a request names a user by one column${hint}`);
}

/** The tables a draft may export: ordinary and partitioned tables (never a view, a foreign table, a partition), but the exporter's own. */
export function draftTables(catalog: Catalog): CatalogTable[] {
  return [...catalog.tables.values()].filter(
    (t) => (t.kind === 'table' || t.kind === 'partitioned') && !EXPORTER_TABLE.test(t.name),
  );
}

export function planDraft(
  catalog: Catalog,
  ref: string,
  options: { userKey?: string; userIds?: UserIdMatches } = {},
): DraftPlan {
  const { users, key } = draftUserTable(catalog, ref, options.userKey);
  const tables = draftTables(catalog);
  const candidates = new Set(tables.map((t) => t.key));
  const names = entityNames(tables);
  // Foreign keys between the application's tables, none to the table itself (a parent row, a reply).
  const fks = catalog.foreignKeys.filter(
    (f) => candidates.has(f.table) && candidates.has(f.refTable) && f.table !== f.refTable,
  );
  const userEntity: DraftEntity = {
    table: users,
    name: names.get(users.key)!,
    how: 'user',
    ownerColumns: [key],
    otherPaths: [],
  };
  const plan: DraftPlan = { userTable: users, userKey: key, entities: [userEntity], leftOut: new Map(), unplaced: [] };
  const covered = new Map<string, DraftEntity>([[users.key, userEntity]]);
  const leaveOut = (table: CatalogTable) => {
    if (!AUTH_TABLE.test(wordsOf(table.name))) return false;
    plan.leftOut.set(table.key, {
      table,
      why: 'it looks like login data (sessions, tokens, OAuth grants, password resets), not what the person did',
    });
    return true;
  };
  const entity = (table: CatalogTable, how: DraftEntity['how'], more: Partial<DraftEntity> = {}): DraftEntity => {
    const e: DraftEntity = { table, name: names.get(table.key)!, how, ownerColumns: [], otherPaths: [], ...more };
    plan.entities.push(e);
    covered.set(table.key, e);
    return e;
  };
  const userColumns = (table: CatalogTable) => userColumnsOf(table, fks, users, key);

  // The tables with columns naming the user: each the user's rows, or a membership of another table.
  const memberships = new Map<string, { table: CatalogTable; column: string; userColumn: string }[]>();
  const deferred: { table: CatalogTable; columns: UserColumn[] }[] = [];
  for (const table of tables) {
    if (table.key === users.key) continue;
    const toUser = userColumns(table);
    if (toUser.length === 0 || leaveOut(table)) continue;
    const membership = membershipOf(table, toUser, fks, users.key);
    if (membership) {
      memberships.set(membership.of.key, [
        ...(memberships.get(membership.of.key) ?? []),
        { table, column: membership.column, userColumn: membership.userColumn },
      ]);
      continue;
    }
    if (
      toUser.every((c) => TARGET.test(wordsOf(c.column))) &&
      fks.some((f) => f.table === table.key && f.refTable !== users.key)
    ) {
      deferred.push({ table, columns: toUser });
      continue;
    }
    if (toUser.every((c) => TARGET.test(wordsOf(c.column)))) {
      // Its only user columns name who acted on it (who last modified it, who resolved it), not whose it is.
      plan.leftOut.set(table.key, {
        table,
        why: `its only user column${toUser.length > 1 ? 's name' : ' names'} who acted on a row or whom it is about (${toUser.map((c) => c.column).join(', ')}), not whose it is`,
      });
      continue;
    }
    const owners = ownerColumnsOf(table, toUser);
    entity(table, 'owner', {
      ownerColumns: owners.map((c) => c.column),
      ...declaredOf(owners),
      alsoUser: toUser.map((c) => c.column).filter((c) => !owners.some((o) => o.column === c)),
    });
  }
  const membershipTables = new Set<string>();
  for (const [of, list] of [...memberships].sort(([a], [b]) => a.localeCompare(b))) {
    const [first, ...rest] = list;
    const target = catalog.tables.get(of)!;
    let e = covered.get(of);
    if (!e && !leaveOut(target)) e = entity(target, 'members');
    if (!e || e.how === 'user') {
      // Memberships of a table left out, or of the user table itself (a follower of a person): the user's rows of that table, as an owner.
      for (const m of list) if (!covered.has(m.table.key)) entity(m.table, 'owner', { ownerColumns: [m.userColumn] });
      continue;
    }
    e.members = first;
    membershipTables.add(first!.table.key);
    // One membership table per entity: any other is the user's rows of that table.
    for (const m of rest) if (!covered.has(m.table.key)) entity(m.table, 'owner', { ownerColumns: [m.userColumn] });
  }
  const placeable = tables.filter((t) => !membershipTables.has(t.key));
  // Logs of what moderators or admins did are never placed through the person's rows (below).
  const actorLogs = new Set(
    deferred
      .filter((d) => STAFF_LOG.test(wordsOf(d.table.name)) && d.columns.every((c) => ACTOR.test(wordsOf(c.column))))
      .map((d) => d.table.key),
  );
  for (const key of actorLogs) plan.leftOut.set(key, { table: catalog.tables.get(key)!, why: '' });
  chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  // A row that names a user only as the one it is about (its reviewing admin, its moderator) is its maker's, reached
  // through another entity; reached no other way, it is that user's after all, and either way the choice is said.
  for (const { table, columns } of deferred) {
    const e = covered.get(table.key);
    const log = actorLogs.has(table.key);
    const via = fks.find((f) => f.table === table.key && covered.has(f.refTable) && f.refTable !== users.key);
    if (log && via) {
      // A log of what moderators or admins did (Lemmy's mod_remove_comment, admin_purge_comment): reached through the
      // person's rows, but a row there may be about someone else's content, and applications keep who acted from them.
      plan.leftOut.set(table.key, {
        table,
        why: `its only user column${columns.length > 1 ? 's name' : ' names'} who acted (${columns.map((c) => c.column).join(', ')}): a log of what moderators or admins did; its rows reached through ${covered.get(via.refTable)!.name} (${via.columns.join(', ')}) may be about other people's content. Export it if each row is about the person`,
      });
      continue;
    }
    if (log) plan.leftOut.delete(table.key);
    if (e) e.alsoUser = columns.map((c) => c.column);
    else if (!plan.leftOut.has(table.key)) {
      const owners = ownerColumnsOf(table, columns);
      entity(table, 'owner', { ownerColumns: owners.map((c) => c.column), ...declaredOf(owners) });
    }
  }
  // Last, what no foreign key places: a table whose columns say, by their names or values, that they hold who made the row
  // (declared, with a TODO); then what hangs off those by foreign keys.
  let declared = false;
  for (const table of placeable) {
    if (covered.has(table.key) || plan.leftOut.has(table.key) || table.key === users.key) continue;
    const inferred = inferredUserColumnsOf(table, fks, users, key, options.userIds);
    if (inferred.length === 0 || leaveOut(table)) continue;
    const owners = ownerColumnsOf(table, inferred);
    entity(table, 'owner', {
      ownerColumns: owners.map((c) => c.column),
      ...declaredOf(owners),
      alsoUser: inferred.map((c) => c.column).filter((c) => !owners.some((o) => o.column === c)),
    });
    declared = true;
  }
  if (declared) chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  // The details exported rows point at (a document's settings), and what hangs off those.
  while (placeDetails(plan, covered, placeable, fks, leaveOut, entity))
    chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  otherPathsOfOwners(plan, covered, fks);
  plan.unplaced = unplacedTables(plan, tables, fks, covered, membershipTables, users, options.userIds);
  return plan;
}

/** A column that names the user: by a foreign key to the user key, or (`declared`) by its name and type, or its values. */
export interface UserColumn {
  column: string;
  /** Why it is taken to name a user though no foreign key says so; undefined where one does. */
  declared?: string;
}

/** Names of columns that hold who made or owns a row: user_id, owner_id, author_id, sender, creator_id, created_by, userId, … */
const USER_WORDS =
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

function declaredOf(owners: UserColumn[]): { ownerDeclared?: string } {
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
/** Names of tables that log what moderators or admins did (Lemmy's mod_remove_comment, admin_purge_comment, a modlog). */
const STAFF_LOG = /^_(mod|moderator|moderation|admin)_|_(modlog|mod_log|moderation_log|admin_log|audit_log)_/;
export const ACTOR =
  /_(mod|moderator|admin|resolver|resolved|reviewer|reviewed|approver|approved|handled|closed|banned|kicked|muted|deleted|updated|modified|edited|last)_/;
/**
 * A column named as the id of a user other than the row's maker (target_user_id, reviewer_id,
 * to_user_id, invited_by): the role word next to the id itself, so target_chain_id,
 * to_device_stream_id and relates_to_id are not.
 */
const OTHER_USER_ID =
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
function ownerColumnsOf(table: CatalogTable, toUser: UserColumn[]): UserColumn[] {
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
function membershipOf(table: CatalogTable, toUser: UserColumn[], fks: readonly ForeignKey[], userTable: string) {
  const key = table.primaryKey;
  if (key.length !== 2 || toUser.length !== 1 || toUser[0]!.declared || !MEMBERSHIP_NAME.test(table.name.toLowerCase()))
    return undefined;
  const userColumn = toUser[0]!.column;
  const other = key.find((c) => c !== userColumn);
  const fk = fks.find(
    (f) => f.table === table.key && f.columns.length === 1 && f.columns[0] === other && f.refTable !== userTable,
  );
  if (!key.includes(userColumn) || !fk) return undefined;
  return { of: { key: fk.refTable }, column: fk.columns[0]!, userColumn };
}

/**
 * Each table's name in the definition: its own, made plain and lower-case
 * (`"User"` is user, `"OrderItem"` order_item), with its schema before it
 * where two tables would share one (public.users and auth.users).
 */
function entityNames(tables: readonly CatalogTable[]): Map<string, string> {
  const plain = (text: string) => {
    const words =
      wordsOf(text)
        .slice(1, -1)
        .replace(/^_+|_+$/g, '') || 'table';
    return /^[a-z_]/.test(words) ? words : `t_${words}`;
  };
  const names = new Map<string, string>();
  const taken = new Map<string, number>();
  for (const t of tables) taken.set(plain(t.name), (taken.get(plain(t.name)) ?? 0) + 1);
  const used = new Set<string>();
  for (const t of tables) {
    let name = taken.get(plain(t.name))! > 1 ? `${plain(t.schema)}_${plain(t.name)}` : plain(t.name);
    for (let n = 2; used.has(name); n++) name = `${name}_${n}`;
    used.add(name);
    names.set(t.key, name);
  }
  return names;
}

/**
 * The tables the draft left undecided that look like they hold someone's
 * rows: a column that names a user (by name or values) it could not use, or
 * one named like the key of an exported table, with no foreign key. Each is
 * listed with a TODO: declare the relation, or leave the table out.
 */
function unplacedTables(
  plan: DraftPlan,
  tables: readonly CatalogTable[],
  fks: readonly ForeignKey[],
  covered: Map<string, DraftEntity>,
  memberships: Set<string>,
  users: CatalogTable,
  userIds?: UserIdMatches,
): Unplaced[] {
  // A column named like an exported table's own key, where the key's name shares a word with the
  // table's (media_id of local_media_repository; not a counter like stream_id, nor a bare id), the
  // nearest such table first; where a table's name made singular with _id is the name (events:
  // event_id), that table, whatever else has a key of that name (partial_state_events).
  const singularWords = (name: string) =>
    new Set(
      wordsOf(name)
        .split('_')
        .filter(Boolean)
        .map((word) => word.replace(/s$/, '')),
    );
  const keyNames = new Map<string, DraftEntity>();
  for (const e of covered.values()) {
    const tableWords = singularWords(e.table.name);
    for (const column of [
      ...(e.table.primaryKey.length === 1 ? [e.table.primaryKey[0]!] : []),
      ...e.table.uniqueColumns,
    ]) {
      if (
        column !== 'id' &&
        !keyNames.has(column) &&
        [...singularWords(column)].some((word) => word !== 'id' && tableWords.has(word))
      )
        keyNames.set(column, e);
    }
  }
  for (const e of covered.values()) keyNames.set(`${wordsOf(e.table.name).slice(1, -1).replace(/s$/, '')}_id`, e);
  const unplaced: Unplaced[] = [];
  for (const table of tables) {
    if (covered.has(table.key) || memberships.has(table.key) || plan.leftOut.has(table.key)) continue;
    const hints: string[] = [];
    const columns = new Set(table.columns.keys());
    // A column with a foreign key names that table's rows, whatever its name says (CscSession.recipientId: a Recipient).
    const inPairs = new Set<string>(fks.filter((f) => f.table === table.key).flatMap((f) => f.columns));
    // Exported rows that point at its rows by a column several rows may share (an avatar, a language): the user's, or shared?
    for (const f of fks) {
      const e = covered.get(f.table);
      if (f.refTable === table.key && e && !e.members)
        hints.push(
          `${e.name}.${f.columns.join(', ')} point${f.columns.length > 1 ? '' : 's'} at its rows (not unique there: other rows may point at the same)`,
        );
    }
    for (const [column] of table.columns) {
      if (inPairs.has(column)) continue;
      const w = wordsOf(column).slice(1, -1);
      // A polymorphic reference (Rails' record_type and record_id): it may point at any table's rows, users' among them.
      const polymorphic = /^(.*)_?[Tt]ype$/.exec(column)?.[1]?.replace(/_$/, '');
      // Not where the id is named like one table's key (room_type and room_id: a kind of room).
      const id =
        polymorphic &&
        [`${polymorphic}_id`, `${polymorphic}Id`].find((name) => columns.has(name) && !keyNames.has(name));
      if (id) {
        inPairs.add(id);
        hints.push(
          `${JSON.stringify(column)} and ${JSON.stringify(id)} may point at any table's rows (a polymorphic reference), ${users.name} among them`,
        );
        continue;
      }
      const match = userIds?.get(table.key)?.get(column);
      if (match && match.of >= 3 && match.users > 0)
        hints.push(`${JSON.stringify(column)} holds ${users.name} ids (${match.users} of ${match.of} sampled values)`);
      else if (USER_WORDS.test(`_${w}_`) || OTHER_USER_ID.test(`_${w}_`)) {
        const denied =
          match && match.of > 0 && match.users === 0
            ? `, but none of its ${match.of} sampled values is a ${users.name} id`
            : '';
        hints.push(`${JSON.stringify(column)} is named like a user's id${denied}`);
      } else {
        const e = keyNames.get(column) ?? keyNames.get(w);
        if (e) hints.push(`${JSON.stringify(column)} is named like the key of ${e.name}`);
      }
    }
    if (hints.length > 0) unplaced.push({ table, hints });
  }
  return unplaced;
}
