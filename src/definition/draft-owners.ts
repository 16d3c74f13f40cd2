import type { Catalog, CatalogTable, ForeignKey } from './catalog.ts';
import { wordsOf } from './draft-names.ts';
import type { DraftEntity, Drafting } from './draft-plan.ts';
import type { UserIdMatches } from './draft-samples.ts';
import {
  ACTOR,
  declaredOf,
  inferredUserColumnsOf,
  ownerColumnsOf,
  TARGET,
  type UserColumn,
  userColumnsOf,
} from './draft-user-columns.ts';

/*
 * The tables whose own columns name the user, placed by planDraft: the
 * user's rows (owner), memberships of another table (members), and rows that
 * name a user only as the one they are about, decided once the rest is placed.
 */

/** A membership table of one exported table: its column to that table's rows, and its column to the user. */
type Membership = NonNullable<DraftEntity['members']>;
/** A table whose only user columns name the one a row is about: its maker's, reached through another entity, if it can be. */
export interface Deferred {
  table: CatalogTable;
  columns: UserColumn[];
}

/** Names of tables that log what moderators or admins did (Lemmy's mod_remove_comment, admin_purge_comment, a modlog). */
const STAFF_LOG = /^_(mod|moderator|moderation|admin)_|_(modlog|mod_log|moderation_log|admin_log|audit_log)_/;

/** The tables with columns naming the user: each the user's rows, or a membership of another table. */
export function placeUserColumns(
  d: Drafting,
  tables: readonly CatalogTable[],
): { memberships: Map<string, Membership[]>; deferred: Deferred[] } {
  const { plan, fks, users } = d;
  const memberships = new Map<string, Membership[]>();
  const deferred: Deferred[] = [];
  for (const table of tables) {
    if (table.key === users.key) continue;
    const toUser = userColumnsOf(table, fks, users, d.key);
    if (toUser.length === 0 || d.leaveOut(table)) continue;
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
    d.entity(table, 'owner', {
      ownerColumns: owners.map((c) => c.column),
      ...declaredOf(owners),
      alsoUser: toUser.map((c) => c.column).filter((c) => !owners.some((o) => o.column === c)),
    });
  }
  return { memberships, deferred };
}

/** Each table with memberships, exported as the rows they link to the user; returns the membership tables used. */
export function placeMemberships(d: Drafting, catalog: Catalog, memberships: Map<string, Membership[]>): Set<string> {
  const { covered } = d;
  const membershipTables = new Set<string>();
  for (const [of, list] of [...memberships].sort(([a], [b]) => a.localeCompare(b))) {
    const [first, ...rest] = list;
    const target = catalog.tables.get(of)!;
    let e = covered.get(of);
    if (!e && !d.leaveOut(target)) e = d.entity(target, 'members');
    if (!e || e.how === 'user') {
      // Memberships of a table left out, or of the user table itself (a follower of a person): the user's rows of that table, as an owner.
      for (const m of list) if (!covered.has(m.table.key)) d.entity(m.table, 'owner', { ownerColumns: [m.userColumn] });
      continue;
    }
    e.members = first;
    membershipTables.add(first!.table.key);
    // One membership table per entity: any other is the user's rows of that table.
    for (const m of rest) if (!covered.has(m.table.key)) d.entity(m.table, 'owner', { ownerColumns: [m.userColumn] });
  }
  return membershipTables;
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
 * Logs of what moderators or admins did are never placed through the person's rows (placeDeferred):
 * held out of the plan (left out, for now with no why) while parents are chosen.
 */
export function holdActorLogs(d: Drafting, catalog: Catalog, deferred: readonly Deferred[]): Set<string> {
  const actorLogs = new Set(
    deferred
      .filter((t) => STAFF_LOG.test(wordsOf(t.table.name)) && t.columns.every((c) => ACTOR.test(wordsOf(c.column))))
      .map((t) => t.table.key),
  );
  for (const key of actorLogs) d.plan.leftOut.set(key, { table: catalog.tables.get(key)!, why: '' });
  return actorLogs;
}

/**
 * A row that names a user only as the one it is about (its reviewing admin, its moderator) is its maker's, reached
 * through another entity; reached no other way, it is that user's after all, and either way the choice is said.
 */
export function placeDeferred(d: Drafting, deferred: readonly Deferred[], actorLogs: Set<string>): void {
  const { plan, covered, fks, users } = d;
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
      d.entity(table, 'owner', { ownerColumns: owners.map((c) => c.column), ...declaredOf(owners) });
    }
  }
}

/**
 * Last, what no foreign key places: a table whose columns say, by their names or values, that they hold who made the row
 * (declared, with a TODO). Returns whether it placed any (then what hangs off those by foreign keys is placed next).
 */
export function placeInferred(d: Drafting, placeable: readonly CatalogTable[], userIds?: UserIdMatches): boolean {
  const { plan, covered, fks, users } = d;
  let declared = false;
  for (const table of placeable) {
    if (covered.has(table.key) || plan.leftOut.has(table.key) || table.key === users.key) continue;
    const inferred = inferredUserColumnsOf(table, fks, users, d.key, userIds);
    if (inferred.length === 0 || d.leaveOut(table)) continue;
    const owners = ownerColumnsOf(table, inferred);
    d.entity(table, 'owner', {
      ownerColumns: owners.map((c) => c.column),
      ...declaredOf(owners),
      alsoUser: inferred.map((c) => c.column).filter((c) => !owners.some((o) => o.column === c)),
    });
    declared = true;
  }
  return declared;
}
