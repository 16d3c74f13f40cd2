import type { CatalogTable, ForeignKey } from './catalog.ts';
import { wordsOf } from './draft-names.ts';
import type { DraftEntity, DraftPlan, Unplaced } from './draft-plan.ts';
import type { UserIdMatches } from './draft-samples.ts';
import { OTHER_USER_ID, USER_WORDS } from './draft-user-columns.ts';

/**
 * The tables the draft left undecided that look like they hold someone's
 * rows: a column that names a user (by name or values) it could not use, or
 * one named like the key of an exported table, with no foreign key. Each is
 * listed with a TODO: declare the relation, or leave the table out.
 */
export function unplacedTables(
  plan: DraftPlan,
  tables: readonly CatalogTable[],
  fks: readonly ForeignKey[],
  covered: Map<string, DraftEntity>,
  memberships: Set<string>,
  users: CatalogTable,
  userIds?: UserIdMatches,
): Unplaced[] {
  const keyNames = keyNamesOf(covered);
  const unplaced: Unplaced[] = [];
  for (const table of tables) {
    if (covered.has(table.key) || memberships.has(table.key) || plan.leftOut.has(table.key)) continue;
    const hints = [...pointedAtHints(table, fks, covered), ...columnHints(table, fks, keyNames, users, userIds)];
    if (hints.length > 0) unplaced.push({ table, hints });
  }
  return unplaced;
}

/**
 * A column named like an exported table's own key, where the key's name shares a word with the
 * table's (media_id of local_media_repository; not a counter like stream_id, nor a bare id), the
 * nearest such table first; where a table's name made singular with _id is the name (events:
 * event_id), that table, whatever else has a key of that name (partial_state_events).
 */
function keyNamesOf(covered: Map<string, DraftEntity>): Map<string, DraftEntity> {
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
  return keyNames;
}

/** Exported rows that point at its rows by a column several rows may share (an avatar, a language): the user's, or shared? */
function pointedAtHints(table: CatalogTable, fks: readonly ForeignKey[], covered: Map<string, DraftEntity>): string[] {
  const hints: string[] = [];
  for (const f of fks) {
    const e = covered.get(f.table);
    if (f.refTable === table.key && e && !e.members)
      hints.push(
        `${e.name}.${f.columns.join(', ')} point${f.columns.length > 1 ? '' : 's'} at its rows (not unique there: other rows may point at the same)`,
      );
  }
  return hints;
}

/** Its columns, with no foreign key, that look like they name a user or an exported row: by their names, or their values. */
function columnHints(
  table: CatalogTable,
  fks: readonly ForeignKey[],
  keyNames: Map<string, DraftEntity>,
  users: CatalogTable,
  userIds?: UserIdMatches,
): string[] {
  const hints: string[] = [];
  const columns = new Set(table.columns.keys());
  // A column with a foreign key names that table's rows, whatever its name says (CscSession.recipientId: a Recipient).
  const inPairs = new Set<string>(fks.filter((f) => f.table === table.key).flatMap((f) => f.columns));
  for (const [column] of table.columns) {
    if (inPairs.has(column)) continue;
    const w = wordsOf(column).slice(1, -1);
    // A polymorphic reference (Rails' record_type and record_id): it may point at any table's rows, users' among them.
    const polymorphic = /^(.*)_?[Tt]ype$/.exec(column)?.[1]?.replace(/_$/, '');
    // Not where the id is named like one table's key (room_type and room_id: a kind of room).
    const id =
      polymorphic && [`${polymorphic}_id`, `${polymorphic}Id`].find((name) => columns.has(name) && !keyNames.has(name));
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
  return hints;
}
