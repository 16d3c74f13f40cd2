import { type Catalog, type CatalogTable, findTable } from './catalog.ts';
import { entityNames, wordsOf } from './draft-names.ts';
import { holdActorLogs, placeDeferred, placeInferred, placeMemberships, placeUserColumns } from './draft-owners.ts';
import { chooseParents, otherPathsOfOwners, placeDetails } from './draft-parents.ts';
import type { DraftEntity, Drafting, DraftPlan } from './draft-plan.ts';
import type { UserIdMatches } from './draft-samples.ts';
import { unplacedTables } from './draft-unplaced.ts';

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

/**
 * Which tables are the user's and how: the tables whose columns name the user
 * first, then what hangs off those by foreign keys, then what only names and
 * values suggest, then the details exported rows point at.
 */
export function planDraft(
  catalog: Catalog,
  ref: string,
  options: { userKey?: string; userIds?: UserIdMatches } = {},
): DraftPlan {
  const { users, key } = draftUserTable(catalog, ref, options.userKey);
  const tables = draftTables(catalog);
  const d = startDrafting(catalog, tables, users, key);
  const { plan, covered, fks, leaveOut, entity } = d;
  const { memberships, deferred } = placeUserColumns(d, tables);
  const membershipTables = placeMemberships(d, catalog, memberships);
  const placeable = tables.filter((t) => !membershipTables.has(t.key));
  const actorLogs = holdActorLogs(d, catalog, deferred);
  chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  placeDeferred(d, deferred, actorLogs);
  if (placeInferred(d, placeable, options.userIds)) chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  // The details exported rows point at (a document's settings), and what hangs off those.
  while (placeDetails(plan, covered, placeable, fks, leaveOut, entity))
    chooseParents(plan, covered, placeable, fks, leaveOut, entity);
  otherPathsOfOwners(plan, covered, fks);
  plan.unplaced = unplacedTables(plan, tables, fks, covered, membershipTables, users, options.userIds);
  return plan;
}

/** A plan with the user's row alone, and the ways to add to it. */
function startDrafting(catalog: Catalog, tables: readonly CatalogTable[], users: CatalogTable, key: string): Drafting {
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
  return { plan, covered, fks, users, key, leaveOut, entity };
}
