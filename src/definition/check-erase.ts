import { TEXT_TYPES } from '../model/database-types.ts';
import type { AnonymizeStrategy, Definition, EntityRule } from '../model/definition.ts';
import { type Catalog, type CatalogTable, comparableTypes, findTable, type RelationKind } from './catalog.ts';
import { throughReferences } from './check-relations.ts';

/**
 * The erase rules against the live database (docs/erasure.md): once one
 * entity has a rule, every entity needs one (an erasure that skipped a table
 * would leave the person behind); each
 * anonymized column exists, is not part of the row's key, and can hold what
 * its strategy writes (null where it may be null, text where it is text, the
 * ghost user's key where it holds a user key); the person's own row is
 * deleted or anonymized, never kept whole; and no rule deletes a row that
 * another entity's kept or anonymized rows hang from.
 */
export function checkErasure(
  def: Definition,
  catalog: Catalog,
  users: CatalogTable,
  userKey: string,
  at: (line: number) => string,
): string[] {
  const problems: string[] = [];
  const ruled = def.entities.filter((e) => e.erase);
  if (ruled.length === 0) return problems;
  for (const e of def.entities) {
    if (!e.erase) {
      problems.push(
        `entities.${e.name}: no erase rule (delete, anonymize or keep): once one entity has one, every entity needs one, or an erasure would leave its rows ${at(e.line)}`,
      );
      continue;
    }
    const table = findTable(catalog, e.table);
    if (!table) continue;
    if (e.erase.kind !== 'keep' && !WRITABLE_KINDS.has(table.kind))
      problems.push(
        `entities.${e.name}: erase: ${e.erase.kind}, but ${e.table} is a ${KIND_WORDS[table.kind]}, whose rows an erasure cannot change: erase the tables it reads through their own entities, and say erase: { keep: "…" } here ${at(e.erase.line)}`,
      );
    const isUserRow = table.key === users.key;
    if (isUserRow && e.erase.kind === 'keep')
      problems.push(
        `entities.${e.name}: the person's own row cannot be kept whole: delete it, or anonymize it as a tombstone ${at(e.erase.line)}`,
      );
    if (e.erase.kind === 'anonymize') problems.push(...anonymizeProblems(def, e, table, users, userKey, at));
  }
  problems.push(...orphanProblems(def, at));
  problems.push(...pointedAtProblems(def, catalog, at));
  problems.push(...cascadeProblems(def, catalog, users, at));
  problems.push(...referenceProblems(def, catalog, users, userKey, at));
  return problems;
}

/**
 * Where a row stays and names the person (another's message, a project they
 * share, a release in it they made), their reference becomes the ghost's key,
 * or null: a column that cannot be null needs erasure.ghost_user. And a row
 * kept whole that points at the person's user row keeps it: that row must be
 * anonymized (a tombstone), not deleted.
 */
function referenceProblems(
  def: Definition,
  catalog: Catalog,
  users: CatalogTable,
  userKey: string,
  at: (line: number) => string,
): string[] {
  const problems: string[] = [];
  const userRule = def.entities.find((e) => findTable(catalog, e.table)?.key === users.key)?.erase;
  for (const e of def.entities) {
    const table = findTable(catalog, e.table);
    if (!table || !e.erase || table.key === users.key) continue;
    const toUsers = catalog.foreignKeys
      .filter(
        (f) =>
          f.table === table.key && f.refTable === users.key && f.columns.length === 1 && f.refColumns[0] === userKey,
      )
      .map((f) => f.columns[0]!);
    const sharedOwners = e.owner && (e.owner.columns.length > 1 || e.members) ? e.owner.columns : [];
    const referencing = [...new Set([...sharedOwners, ...toUsers.filter((c) => !e.owner?.columns.includes(c))])];
    if (def.erasure?.ghostUser === undefined)
      for (const column of referencing)
        if (table.columns.get(column)?.nullable === false)
          problems.push(
            `${e.table}.${column}: where a row of it stays and names the person, their reference must change, and the column cannot be null: name erasure.ghost_user ${at(e.erase.line)}`,
          );
    const rule = e.erase;
    const keptWhole = rule.kind === 'keep' && toUsers.some((c) => e.owner?.columns.includes(c));
    if (keptWhole && userRule?.kind === 'delete')
      problems.push(
        `entities.${e.name}: erase: keep, and its rows point at the person's user row, which erase: delete would leave them without: anonymize the user row (a tombstone) instead ${at(rule.line)}`,
      );
    // Anonymized rows that still point at the user row: its delete fails on their foreign key, every retry.
    const stillPointing =
      rule.kind === 'anonymize' ? toUsers.filter((c) => e.owner?.columns.includes(c) && !(c in rule.columns)) : [];
    if (stillPointing.length > 0 && userRule?.kind === 'delete')
      problems.push(
        `entities.${e.name}: erase: anonymize keeps its rows pointing at the person's user row by ${stillPointing.join(', ')}, which erase: delete would leave them without: anonymize ${stillPointing.join(', ')} too (ghost, or null), or the user row as a tombstone ${at(rule.line)}`,
      );
  }
  return problems;
}

function anonymizeProblems(
  def: Definition,
  e: EntityRule,
  table: CatalogTable,
  users: CatalogTable,
  userKey: string,
  at: (line: number) => string,
): string[] {
  const problems: string[] = [];
  const rule = e.erase!;
  if (rule.kind !== 'anonymize') return problems;
  if (table.primaryKey.length === 0)
    problems.push(
      `entities.${e.name}: erase.anonymize walks the rows by their primary key (a batch at a time, resumable), and ${e.table} has none: delete them, or keep them ${at(rule.line)}`,
    );
  for (const [column, strategy] of Object.entries(rule.columns)) {
    const live = table.columns.get(column);
    const where = `${e.table}.${column}`;
    if (!live) {
      problems.push(`${where}: named in erase.anonymize but does not exist ${at(rule.line)}`);
      continue;
    }
    if (table.primaryKey.includes(column))
      problems.push(`${where}: part of the row's key; anonymize other columns, or delete the row ${at(rule.line)}`);
    if (strategy.kind === 'null' && !live.nullable)
      problems.push(`${where}: erase.anonymize says null, but the column is not null ${at(rule.line)}`);
    if (
      (strategy.kind === 'text' || strategy.kind === 'hmac') &&
      !TEXT_TYPES.has(live.type) &&
      live.sqlType !== 'citext'
    )
      problems.push(
        `${where}: erase.anonymize writes text (${strategy.kind}), but the column is ${live.sqlType} ${at(rule.line)}`,
      );
    problems.push(...fitProblems(table, column, strategy, where, at(rule.line)));
    if (strategy.kind === 'ghost') {
      if (!comparableTypes(live, users.columns.get(userKey)!))
        problems.push(
          `${where}: ghost puts a ${users.name} key here, but the column's type (${live.sqlType}) cannot hold one ${at(rule.line)}`,
        );
      if (def.erasure?.ghostUser === undefined)
        problems.push(`${where}: ghost needs erasure.ghost_user, the user kept rows point at instead ${at(rule.line)}`);
    }
  }
  return problems;
}

/** What an erasure can delete from or update: not a view's or a foreign server's rows. */
const WRITABLE_KINDS: ReadonlySet<RelationKind> = new Set(['table', 'partitioned']);
const KIND_WORDS: Record<RelationKind, string> = {
  table: 'table',
  partitioned: 'partitioned table',
  view: 'view',
  matview: 'materialized view',
  foreign: 'foreign table',
};
/** An hmac pseudonym's length: 'hmac:' and 64 hex digits (erasure-sql.ts). */
const HMAC_CHARACTERS = 69;

/**
 * Whether what a strategy writes fits the column for every person erased,
 * not only the first: one fixed value (a text, the ghost's key) in a column
 * of a unique key fails the second person's erasure, every retry; and a
 * value longer than a varchar(n) or char(n) is cut by the cast, silently: a
 * pseudonym cut short can make two people's values one.
 */
function fitProblems(
  table: CatalogTable,
  column: string,
  strategy: AnonymizeStrategy,
  name: string,
  place: string,
): string[] {
  const problems: string[] = [];
  const unique = table.uniqueKeys.find((key) => key.includes(column));
  if (unique && (strategy.kind === 'text' || strategy.kind === 'ghost'))
    problems.push(
      `${name}: erase.anonymize writes the same ${strategy.kind === 'text' ? 'text' : 'ghost key'} for everyone erased, and the column is in a unique key (${unique.join(', ')}): the second erasure would fail on it; use hmac (one pseudonym per value) or null ${place}`,
    );
  const limit = /^character(?: varying)?\((\d+)\)$/.exec(table.columns.get(column)!.sqlType)?.[1];
  const length = strategy.kind === 'hmac' ? HMAC_CHARACTERS : strategy.kind === 'text' ? [...strategy.text].length : 0;
  if (limit !== undefined && length > Number(limit))
    problems.push(
      `${name}: erase.anonymize writes ${length} characters (${strategy.kind === 'hmac' ? 'an hmac pseudonym' : 'its text'}), and the column holds ${limit}: the value would be cut short ${place}`,
    );
  return problems;
}

/** A deleted row that another entity's rows hang from (through it) while those stay: they would lose what they point at. */
function orphanProblems(def: Definition, at: (line: number) => string): string[] {
  const byName = new Map(def.entities.map((e) => [e.name, e]));
  const problems: string[] = [];
  for (const child of def.entities) {
    const parent = child.through ? byName.get(child.through.entity) : undefined;
    if (!parent?.erase || !child.erase || parent.erase.kind !== 'delete' || child.erase.kind === 'delete') continue;
    problems.push(
      `entities.${parent.name}: erase: delete, but ${child.name} (erase: ${child.erase.kind}) hangs from its rows (through ${child.through!.columns.join(', ')}): they would lose their parent; delete ${child.name} too, or keep or anonymize ${parent.name} ${at(parent.erase.line)}`,
    );
  }
  return problems;
}

/**
 * A deleted row that another entity's kept or anonymized rows point at (a
 * `through` whose relation runs from the parent to it: an envelope's
 * settings, Envelope.documentMetaId): the parent's foreign key refuses the
 * delete, or takes the parent with it, or leaves it pointing at nothing;
 * unless the parent's rule empties every column that points at it.
 */
function pointedAtProblems(def: Definition, catalog: Catalog, at: (line: number) => string): string[] {
  const byName = new Map(def.entities.map((e) => [e.name, e]));
  const problems: string[] = [];
  for (const child of def.entities) {
    const parent = child.through ? byName.get(child.through.entity) : undefined;
    if (!parent?.erase || child.erase?.kind !== 'delete' || parent.erase.kind === 'delete') continue;
    if (!pointedAtByParent(child, parent, catalog)) continue;
    const rule = parent.erase;
    const refs = child.through!.references ?? [];
    if (rule.kind === 'anonymize' && refs.length > 0 && refs.every((r) => rule.columns[r]?.kind === 'null')) continue;
    problems.push(
      `entities.${child.name}: erase: delete, but ${parent.name} (erase: ${rule.kind}) points at its rows and stays: it would point at nothing, or its foreign key refuse the delete; keep ${child.name}, or delete ${parent.name} too ${at(child.erase.line)}`,
    );
  }
  return problems;
}

/**
 * Whether a `through` entity's rows are pointed at by their parent's (an
 * envelope's settings: Envelope.documentMetaId names them) rather than
 * pointing at it: a foreign key from the parent's columns to its own says
 * so; where no key runs either way, the parent's columns are not its key.
 */
export function pointedAtByParent(rule: EntityRule, parentRule: EntityRule, catalog: Catalog): boolean {
  const table = findTable(catalog, rule.table);
  const parent = findTable(catalog, parentRule.table);
  const refs = table && parent ? throughReferences(rule, table, parent, catalog) : undefined;
  if (!table || !parent || !refs) return false;
  const pairs = (from: readonly string[], to: readonly string[]) =>
    from
      .map((c, i) => `${c}\u0000${to[i]}`)
      .sort()
      .join('\u0001');
  const mine = pairs(refs, rule.through!.columns);
  const keys = catalog.foreignKeys;
  if (keys.some((f) => f.table === parent.key && f.refTable === table.key && pairs(f.columns, f.refColumns) === mine))
    return true;
  if (keys.some((f) => f.table === table.key && f.refTable === parent.key && pairs(f.refColumns, f.columns) === mine))
    return false;
  return [...refs].sort().join('\u0000') !== [...parent.primaryKey].sort().join('\u0000');
}

/**
 * The application's own ON DELETE CASCADE: deleting the person's rows of an
 * entity would take with them every row of another table that points at
 * them, other people's among them (another person's comment on their post, a
 * subfolder someone else made in their folder). Refused, unless the rows
 * that hang from them are an entity `through` it whose rule deletes them
 * (the rule decides them), or its membership table. The user table's own
 * cascades take rows that name the person (sessions, tokens): theirs.
 */
function cascadeProblems(
  def: Definition,
  catalog: Catalog,
  users: CatalogTable,
  at: (line: number) => string,
): string[] {
  const problems: string[] = [];
  for (const e of def.entities) {
    const table = findTable(catalog, e.table);
    if (!table || e.erase?.kind !== 'delete' || table.key === users.key) continue;
    const decided = new Set(
      def.entities
        .filter((c) => c.through?.entity === e.name && c.erase?.kind === 'delete')
        .map((c) => findTable(catalog, c.table)?.key),
    );
    if (e.members) decided.add(findTable(catalog, e.members.table)?.key);
    for (const f of catalog.foreignKeys) {
      if (f.refTable !== table.key || f.onDelete !== 'cascade' || decided.has(f.table)) continue;
      const from = catalog.tables.get(f.table);
      problems.push(
        `entities.${e.name}: erase: delete, and ${from ? `${from.schema === 'public' ? '' : `${from.schema}.`}${from.name}` : f.table}.${f.columns.join(', ')} (ON DELETE CASCADE) would delete the rows that hang from its rows, other people's among them: export them through ${e.name} with erase: delete (the rule decides them), or anonymize or keep ${e.name} ${at(e.erase.line)}`,
      );
    }
  }
  return problems;
}
