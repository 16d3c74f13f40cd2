import type { CatalogTable, ForeignKey } from './catalog.ts';
import type { DraftEntity, DraftPlan } from './draft-plan.ts';

/**
 * Every table whose rows are the user's through another exported table:
 * the rows of a user's changeset, then the rows of those. A table reachable
 * several ways goes through the right parent, never the first in alphabetical
 * order:
 *
 * 1. the parent whose key is part of the table's own primary key (a
 *    (way_id, version, sequence_id) table's way, not the node a row points
 *    at): a row keyed by its parent is that parent's, and through any other
 *    foreign key it would bring in rows of someone else's parent;
 * 2. else a parent over columns that are never null, then the one closest
 *    to the user, then the first in the table's own column order.
 *
 * A table waits while its keyed parent may still be placed. The foreign keys
 * it did not follow are said as a TODO (`otherPaths`).
 */
export function chooseParents(
  plan: DraftPlan,
  covered: Map<string, DraftEntity>,
  tables: readonly CatalogTable[],
  fks: readonly ForeignKey[],
  leaveOut: (table: CatalogTable) => boolean,
  entity: (table: CatalogTable, how: DraftEntity['how'], more: Partial<DraftEntity>) => DraftEntity,
): void {
  const byKey = new Map(tables.map((t) => [t.key, t]));
  const depth = new Map<string, number>(plan.entities.map((e) => [e.table.key, 0]));
  const reachable = reachableFrom(new Set(covered.keys()), fks);
  const pending = new Set(
    tables.map((t) => t.key).filter((k) => !covered.has(k) && !plan.leftOut.has(k) && reachable.has(k)),
  );
  /** The foreign keys a table's rows could follow to a row of an exported table. */
  const toCovered = (table: CatalogTable) =>
    fks.filter((f) => f.table === table.key && covered.has(f.refTable) && f.refTable !== plan.userTable.key);
  const keyed = (table: CatalogTable, f: ForeignKey) => f.columns.every((c) => table.primaryKey.includes(c));

  for (let progress = true, patient = true; pending.size > 0; ) {
    progress = false;
    for (const key of [...pending]) {
      const table = byKey.get(key)!;
      const options = toCovered(table);
      const keyedParents = fks.filter(
        (f) =>
          f.table === key &&
          keyed(table, f) &&
          reachable.has(f.refTable) &&
          f.refTable !== plan.userTable.key &&
          !plan.leftOut.has(f.refTable),
      );
      const ready = options.filter((f) => keyed(table, f));
      // Its keyed parent is not placed yet but may be: wait for it (unless nothing else moves).
      if (ready.length === 0 && keyedParents.length > 0 && patient) continue;
      if (options.length === 0) continue;
      pending.delete(key);
      progress = true;
      if (leaveOut(table)) continue;
      const chosen = best(ready.length > 0 ? ready : options, table, depth);
      const parent = covered.get(chosen.refTable)!;
      const others = sharedWithOthers(plan, fks, table, parent);
      if (others) {
        plan.leftOut.set(key, { table, ...others });
        continue;
      }
      const e = entity(table, 'through', {
        through: { entity: parent, columns: chosen.columns, references: chosen.refColumns },
      });
      depth.set(key, (depth.get(chosen.refTable) ?? 0) + 1);
      e.otherPaths.push(
        ...options.filter((f) => f !== chosen).map((f) => `${f.columns.join(', ')} (${covered.get(f.refTable)!.name})`),
      );
    }
    if (!progress && !patient) break;
    // Nothing moved while tables waited for their keyed parents: those parents cannot be placed; go on without waiting.
    patient = progress;
  }
}

/**
 * Why a table reached through `parent` is other people's rows as much as the user's, or undefined where it is the user's.
 * The side that cannot leak: what hangs off a row the user shares with others (a project they are a member of,
 * a mailing list) is those others' as much as theirs; a table of people reached this way is other people.
 */
function sharedWithOthers(
  plan: DraftPlan,
  fks: readonly ForeignKey[],
  table: CatalogTable,
  parent: DraftEntity,
): { why: string; people?: boolean } | undefined {
  if (parent.members)
    return {
      why: `it references ${parent.name}, whose rows the user shares with other people (${parent.members.table.name}): its rows are theirs too`,
    };
  if (looksLikePeople(table))
    return {
      why: 'it looks like a table of people (an email, password or user name column): other people',
      people: true,
    };
  // A row that also points at one of those people (a recipient's signature on the user's document) is theirs as much.
  const person = fks.find((f) => f.table === table.key && plan.leftOut.get(f.refTable)?.people);
  if (person)
    return {
      why: `it references ${plan.leftOut.get(person.refTable)!.table.name} (${person.columns.join(', ')}), a table of other people: its rows are theirs too`,
    };
  return undefined;
}

/** The foreign keys to exported tables that an owned or shared table did not follow (a TODO each): once everything is placed. */
export function otherPathsOfOwners(
  plan: DraftPlan,
  covered: Map<string, DraftEntity>,
  fks: readonly ForeignKey[],
): void {
  for (const e of plan.entities) {
    if (e.how === 'user' || e.how === 'through') continue;
    const used = new Set(e.ownerColumns);
    e.otherPaths.push(
      ...fks
        .filter(
          (f) =>
            f.table === e.table.key &&
            covered.has(f.refTable) &&
            f.refTable !== plan.userTable.key &&
            !f.columns.some((c) => used.has(c)),
        )
        .map((f) => `${f.columns.join(', ')} (${covered.get(f.refTable)!.name})`),
    );
  }
}

/** Tables with a chain of foreign keys to one of `from`. */
function reachableFrom(from: Set<string>, fks: readonly ForeignKey[]): Set<string> {
  const reached = new Set(from);
  for (let grew = true; grew; ) {
    grew = false;
    for (const f of fks) {
      if (reached.has(f.refTable) && !reached.has(f.table)) {
        reached.add(f.table);
        grew = true;
      }
    }
  }
  return reached;
}

/** Never-null columns first, then the parent closest to the user, then the first of the table's columns. */
function best(options: readonly ForeignKey[], table: CatalogTable, depth: Map<string, number>): ForeignKey {
  const order = [...table.columns.keys()];
  const nullable = (f: ForeignKey) => (f.columns.some((c) => table.columns.get(c)?.nullable) ? 1 : 0);
  const position = (f: ForeignKey) => Math.min(...f.columns.map((c) => order.indexOf(c)));
  return [...options].sort(
    (a, b) =>
      nullable(a) - nullable(b) ||
      (depth.get(a.refTable) ?? 99) - (depth.get(b.refTable) ?? 99) ||
      position(a) - position(b),
  )[0]!;
}

function looksLikePeople(table: CatalogTable): boolean {
  return [...table.columns.keys()].some((c) => /^(email|email_address|username|user_name|password\w*)$/i.test(c));
}

/**
 * Tables an exported row points at by a column unique among that table's rows
 * (Documenso's Envelope.documentMetaId, EnvelopeItem.documentDataId): each row
 * pointed at is that one row's detail, so it is the user's as much. Drafted
 * `through` the row pointing at it (the foreign key runs from the parent:
 * `references` names the parent's column). A table pointed at by a column that
 * is not unique (a language, a price, an avatar several rows may share) is not
 * drafted; unplacedTables lists it. Returns whether it placed any.
 */
export function placeDetails(
  plan: DraftPlan,
  covered: Map<string, DraftEntity>,
  tables: readonly CatalogTable[],
  fks: readonly ForeignKey[],
  leaveOut: (table: CatalogTable) => boolean,
  entity: (table: CatalogTable, how: DraftEntity['how'], more: Partial<DraftEntity>) => DraftEntity,
): boolean {
  const placeable = new Map(tables.map((t) => [t.key, t]));
  let placed = false;
  for (const f of fks) {
    const parent = covered.get(f.table);
    const table = placeable.get(f.refTable);
    if (
      !parent ||
      !table ||
      parent.members ||
      covered.has(table.key) ||
      plan.leftOut.has(table.key) ||
      table.key === plan.userTable.key
    )
      continue;
    if (!uniqueIn(parent.table, f.columns) || leaveOut(table)) continue;
    entity(table, 'through', {
      through: { entity: parent, columns: f.refColumns, references: f.columns, pointedAt: true },
    });
    placed = true;
  }
  return placed;
}

/** Whether `columns` are a unique key of `table` (its primary key, or a unique constraint or index on exactly them). */
export function uniqueIn(table: CatalogTable, columns: readonly string[]): boolean {
  const same = (key: readonly string[]) => key.length === columns.length && columns.every((c) => key.includes(c));
  return same(table.primaryKey) || table.uniqueKeys.some(same);
}
