import type { EntityRule } from '../model/definition.ts';
import { type Catalog, type CatalogTable, comparableTypes, findTable, foreignKeysOn, refOf } from './catalog.ts';

/*
 * How an entity's rows are the user's, checked against the live database:
 * its owner columns, its membership table, the parent it belongs through.
 * Each relation follows a foreign key, or is declared over columns whose
 * types can match.
 */

/** One entity being checked: its rule, its live table, and where its problems go. */
export interface EntityCheck {
  e: EntityRule;
  table: CatalogTable;
  catalog: Catalog;
  problems: string[];
  at: (line: number) => string;
}

/**
 * The parent's columns that a `through` relation's columns hold: as given
 * (`references`), else those a foreign key on the columns names, else the
 * parent's primary key.
 */
export function throughReferences(
  e: EntityRule,
  table: CatalogTable,
  parent: CatalogTable,
  catalog: Catalog,
): readonly string[] | undefined {
  const t = e.through!;
  if (t.references) return t.references;
  const fk = foreignKeysOn(catalog, table.key, t.columns).find((f) => f.refTable === parent.key);
  if (fk) return fk.refColumns;
  return parent.primaryKey.length === t.columns.length ? parent.primaryKey : undefined;
}

/** The entity's column a membership row's `column` holds: as given, else the one its foreign key names, else the entity's one-column key. */
export function membersReference(
  e: EntityRule,
  table: CatalogTable,
  members: CatalogTable,
  catalog: Catalog,
): string | undefined {
  const m = e.members!;
  if (m.references) return m.references;
  const fk = foreignKeysOn(catalog, members.key, [m.column]).find((f) => f.refTable === table.key);
  if (fk) return fk.refColumns[0];
  return table.primaryKey.length === 1 ? table.primaryKey[0] : undefined;
}

/** The entity's relations to the user: `userKey` is the user table's key (undefined where it has none). */
export function checkOwnership(
  check: EntityCheck,
  users: CatalogTable,
  userKey: string | undefined,
  byName: Map<string, EntityRule>,
): void {
  checkOwnerColumns(check, users, userKey);
  if (check.e.members) checkMembers(check, users, userKey);
  if (check.e.through) checkThrough(check, byName);
}

/**
 * A relation from `from`'s columns to `to`'s: a foreign key says so, or the
 * definition declares it and the columns' types can match.
 */
function checkRelated(
  { e, table, catalog, problems, at }: EntityCheck,
  from: CatalogTable,
  columns: readonly string[],
  to: CatalogTable,
  refColumns: readonly string[],
  declared: string | undefined,
  what: string,
  toLabel = refOf(catalog, to),
): void {
  const fks = foreignKeysOn(catalog, from.key, columns).filter(
    (f) => f.refTable === to.key && f.refColumns.every((c, i) => c === refColumns[i]),
  );
  if (fks.length > 0) return;
  // A "through" detail the parent points at (Envelope.documentMetaId to DocumentMeta.id): the foreign key runs the other way.
  const pointedAt =
    what === 'the "through" column' &&
    foreignKeysOn(catalog, to.key, refColumns).some(
      (f) => f.refTable === from.key && f.refColumns.every((c, i) => c === columns[i]),
    );
  if (pointedAt) return;
  if (declared === undefined) {
    problems.push(
      `${from === table ? e.table : refOf(catalog, from)}.${columns.join(', ')}: ${what} has no foreign key to ${toLabel} (${refColumns.join(', ')}); add one, or declare the relation (declared: "why") ${at(e.line)}`,
    );
    return;
  }
  for (const [i, column] of columns.entries()) {
    const a = from.columns.get(column);
    const b = to.columns.get(refColumns[i]!);
    if (a && b && !comparableTypes(a, b)) {
      problems.push(
        `${refOf(catalog, from)}.${column}: declared to hold ${refOf(catalog, to)}.${refColumns[i]}, but its type (${a.sqlType}) cannot hold that one's (${b.sqlType}) ${at(e.line)}`,
      );
    }
  }
}

function checkOwnerColumns(check: EntityCheck, users: CatalogTable, userKey: string | undefined): void {
  const { e, table, problems, at } = check;
  const key = userKey === undefined ? undefined : users.columns.get(userKey);
  for (const column of e.owner?.columns ?? []) {
    if (!table.columns.has(column))
      problems.push(`${e.table}.${column}: the owner column does not exist ${at(e.line)}`);
    else if (table.key === users.key) {
      if (column !== userKey)
        problems.push(
          `${e.table}.${column}: the user table's rows are the user's by its key (${userKey}) ${at(e.line)}`,
        );
    } else if (key && userKey !== undefined)
      checkRelated(check, table, [column], users, [userKey], e.owner!.declared, 'the owner column');
  }
}

function checkMembers(check: EntityCheck, users: CatalogTable, userKey: string | undefined): void {
  const { e, table, catalog, problems, at } = check;
  const m = e.members!;
  const members = findTable(catalog, m.table);
  if (!members) {
    problems.push(`${m.table}: the membership table of ${e.name} does not exist ${at(e.line)}`);
    return;
  }
  const missing = [m.column, m.userColumn].filter((c) => !members.columns.has(c));
  for (const column of missing) problems.push(`${m.table}.${column}: named but does not exist ${at(e.line)}`);
  const reference = membersReference(e, table, members, catalog);
  if (reference === undefined)
    problems.push(
      `${m.table}.${m.column}: which column of ${e.table} it holds is unknown; give members.references ${at(e.line)}`,
    );
  if (missing.length === 0 && reference !== undefined)
    checkRelated(check, members, [m.column], table, [reference], m.declared, 'the membership column');
  if (missing.length === 0 && userKey !== undefined)
    checkRelated(check, members, [m.userColumn], users, [userKey], m.declared, 'the membership user column');
  const used = new Set([
    m.column,
    m.userColumn,
    ...Object.keys(m.omit),
    ...e.columns.flatMap((c) => (c.derived?.startsWith('members.') ? [c.derived.slice(8)] : [])),
  ]);
  for (const column of members.columns.keys())
    if (!used.has(column)) problems.push(`${m.table}.${column}: neither exported nor omitted ${at(e.line)}`);
  for (const column of used)
    if (!members.columns.has(column) && !missing.includes(column))
      problems.push(`${m.table}.${column}: named but does not exist ${at(e.line)}`);
}

function checkThrough(check: EntityCheck, byName: Map<string, EntityRule>): void {
  const { e, table, catalog, problems, at } = check;
  const through = e.through!;
  const parentRule = byName.get(through.entity)!;
  const parent = findTable(catalog, parentRule.table);
  const missing = through.columns.filter((c) => !table.columns.has(c));
  for (const column of missing)
    problems.push(`${e.table}.${column}: the "through" column does not exist ${at(e.line)}`);
  if (parent && missing.length === 0) {
    const references = throughReferences(e, table, parent, catalog);
    if (!references)
      problems.push(
        `${e.table}.${through.columns.join(', ')}: which columns of ${parentRule.table} they hold is unknown; give through.references ${at(e.line)}`,
      );
    else {
      for (const column of references)
        if (!parent.columns.has(column))
          problems.push(`${parentRule.table}.${column}: named in through.references but does not exist ${at(e.line)}`);
      if (references.every((c) => parent.columns.has(c)))
        checkRelated(
          check,
          table,
          through.columns,
          parent,
          references,
          through.declared,
          'the "through" column',
          `${parentRule.table} (entity ${parentRule.name})`,
        );
    }
  }
  checkThroughCircle(check, parentRule, byName);
}

/** The chain of `through` parents ends: it never comes back to an entity it passed. */
function checkThroughCircle(check: EntityCheck, parentRule: EntityRule, byName: Map<string, EntityRule>): void {
  const { e, problems, at } = check;
  const seen = new Set<string>([e.name]);
  for (let p: EntityRule | undefined = parentRule; p?.through; p = byName.get(p.through.entity)) {
    if (seen.has(p.name)) {
      problems.push(`entities.${e.name}: "through" goes round in a circle ${at(e.line)}`);
      break;
    }
    seen.add(p.name);
  }
}
