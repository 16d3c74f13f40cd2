import { kindOfType } from '../model/column-kinds.ts';
import { type Definition, type EntityRule, type FileRule, PLACEHOLDER } from '../model/definition.ts';
import { type Catalog, type CatalogTable, comparableTypes, findTable, foreignKeysOn, refOf } from './catalog.ts';
import { secretLookingName } from './secrets.ts';

/**
 * Compares a definition with the live database and returns every problem,
 * one line each (empty when they agree): a column nobody classified (a
 * migration added it since), a classified column or table that no longer
 * exists, an ownership path that follows no foreign key and is not declared
 * (or is declared over columns whose types cannot match), a secret-looking
 * column exported without `not_secret`, a table that references users (or an
 * exported entity) and is neither exported nor left out.
 */
export function checkDefinition(def: Definition, catalog: Catalog): string[] {
  const problems: string[] = [];
  const at = (line: number) => `(${def.file}:${line})`;
  const users = findTable(catalog, def.userTable);
  if (!users) problems.push(`${def.userTable}: the user table does not exist ${at(1)}`);
  else problems.push(...checkUserColumns(def, users, at));

  const byName = new Map(def.entities.map((e) => [e.name, e]));
  for (const e of def.entities) {
    const table = findTable(catalog, e.table);
    if (!table) {
      problems.push(`${e.table}: table of entity ${e.name} does not exist ${at(e.line)}`);
      continue;
    }
    const own = e.columns.filter((c) => c.derived === undefined);
    const classified = new Set(own.map((c) => c.name));
    for (const column of table.columns.keys()) {
      if (!classified.has(column))
        problems.push(
          `${e.table}.${column}: neither exported nor omitted (a column added since the definition was written?) ${at(e.line)}`,
        );
    }
    for (const c of own) {
      const live = table.columns.get(c.name);
      if (!live) problems.push(`${e.table}.${c.name}: classified but does not exist ${at(c.line)}`);
      else if (c.export !== undefined && !kindOfType(live.type))
        problems.push(`${e.table}.${c.name}: type ${live.type} cannot be exported yet ${at(c.line)}`);
    }
    for (const c of e.columns) {
      if (c.export !== undefined && secretLookingName(c.name) && !c.notSecret) {
        problems.push(
          `${e.table}.${c.name}: looks secret and is exported; omit it, or say why it is not secret (not_secret: …) ${at(c.line)}`,
        );
      }
    }
    for (const column of e.orderBy)
      if (!table.columns.has(column))
        problems.push(`${e.table}.${column}: in order_by but does not exist ${at(e.line)}`);
    checkFiles(e, table, problems, at);
    if (users) checkOwnership(e, table, users, byName, def, catalog, problems, at);
  }

  // Every table that holds users' data must be decided on: exported, a membership table, or left out.
  const keyOf = (ref: string) => findTable(catalog, ref)?.key;
  const decided = new Set<string>(
    [
      def.userTable,
      ...def.entities.map((e) => e.table),
      ...def.entities.flatMap((e) => (e.members ? [e.members.table] : [])),
      ...Object.keys(def.leftOut),
    ]
      .map(keyOf)
      .filter((k) => k !== undefined),
  );
  const exportedTables = new Set(
    [def.userTable, ...def.entities.map((e) => e.table)].map(keyOf).filter((k) => k !== undefined),
  );
  for (const f of catalog.foreignKeys) {
    if (exportedTables.has(f.refTable) && !decided.has(f.table)) {
      decided.add(f.table);
      const from = refOf(catalog, catalog.tables.get(f.table)!);
      problems.push(
        `${from}: references ${refOf(catalog, catalog.tables.get(f.refTable)!)} (${from}.${f.columns.join(', ')}) but is neither exported nor listed in left_out ${at(1)}`,
      );
    }
  }
  for (const table of Object.keys(def.leftOut))
    if (!keyOf(table)) problems.push(`${table}: in left_out but does not exist ${at(1)}`);
  return problems;
}

/**
 * The user table's key is one column that tells users apart (the named
 * `user_key`, unique; else the table's one-column primary
 * key), and the email's columns exist as text.
 */
function checkUserColumns(def: Definition, users: CatalogTable, at: (line: number) => string): string[] {
  const problems: string[] = [];
  const key = userKeyOf(def, users);
  if (key === undefined)
    problems.push(
      `${def.userTable}: has no one-column primary key; name a unique column that identifies a user (user_key: …) ${at(1)}`,
    );
  else if (!users.columns.has(key)) problems.push(`${def.userTable}.${key}: the user key does not exist ${at(1)}`);
  else if (!(users.primaryKey.length === 1 && users.primaryKey[0] === key) && !users.uniqueColumns.includes(key)) {
    problems.push(
      `${def.userTable}.${key}: the user key must be unique (a primary key, or a unique constraint or index on it alone): two users could share an id ${at(1)}`,
    );
  }
  for (const [role, column] of [
    ['user_email', def.userEmail],
    ['user_name', def.userName],
  ] as const) {
    if (column === undefined) continue;
    const live = users.columns.get(column);
    if (!live) problems.push(`${def.userTable}.${column}: ${role} does not exist ${at(1)}`);
    else if (!TEXT_TYPES.has(live.type))
      problems.push(`${def.userTable}.${column}: ${role} must be text, it is ${live.type} ${at(1)}`);
  }
  return problems;
}

/** The column a request's user_id names: `user_key`, else the user table's one-column primary key. */
export function userKeyColumn(def: Definition, catalog: Catalog): string | undefined {
  const users = findTable(catalog, def.userTable);
  return users ? userKeyOf(def, users) : def.userKey;
}

function userKeyOf(def: Definition, users: CatalogTable): string | undefined {
  if (def.userKey !== undefined) return def.userKey;
  return users.primaryKey.length === 1 ? users.primaryKey[0] : undefined;
}

const TEXT_TYPES = new Set(['text', 'character varying', 'character']);
const SIZE_TYPES = new Set(['integer', 'bigint', 'numeric']);

/** A file rule's columns exist with usable types, its rows have a one-column key to name their folder, and its keys are bound to their owner. */
function checkFiles(e: EntityRule, table: CatalogTable, problems: string[], at: (line: number) => string): void {
  if (e.files.length === 0) return;
  if (table.primaryKey.length !== 1)
    problems.push(
      `${e.table}: has files but no one-column primary key to name each row's folder (files/${e.name}/<key>/) ${at(e.line)}`,
    );
  for (const f of e.files) {
    const uses: [string | undefined, string, Set<string>][] = [
      [f.key, 'key', TEXT_TYPES],
      [f.url, 'url', TEXT_TYPES],
      [f.nameColumn, 'name', TEXT_TYPES],
      [f.contentTypeColumn, 'content_type', TEXT_TYPES],
      [f.sizeColumn, 'size', SIZE_TYPES],
    ];
    for (const [column, role, types] of uses) {
      if (column === undefined) continue;
      const live = table.columns.get(column);
      if (!live) problems.push(`${e.table}.${column}: the file's ${role} column does not exist ${at(f.line)}`);
      else if (!types.has(live.type))
        problems.push(
          `${e.table}.${column}: the file's ${role} column is ${live.type}, expected ${[...types].join(' or ')} ${at(f.line)}`,
        );
    }
    if (table.columns.has(f.name))
      problems.push(
        `${e.table}.${f.name}: the path column of a file cannot have the name of a column of the table ${at(f.line)}`,
      );
    for (const column of placeholders(f)) {
      if (!table.columns.has(column))
        problems.push(
          `${e.table}.${column}: named in the ${f.key ? 'key' : 'url'}_prefix of ${f.name} but does not exist ${at(f.line)}`,
        );
    }
    // A key a user wrote could name another person's upload, or an archive: every file column is bound to its row's owner, or says why it need not be.
    if (placeholders(f).length === 0 && f.ownerBound === undefined) {
      const setting = f.key ? 'key_prefix' : 'url_prefix';
      problems.push(
        `entities.${e.name}.files.${f.name}: its ${f.key ? 'keys' : 'URLs'} are not bound to the row's owner; add ${setting}: "…/{${e.owner?.columns[0] ?? 'owner_id'}}/" (a ${f.key ? 'key' : 'URL'} a user wrote could name another person's file), or say why none is needed with owner_bound: "…" ${at(f.line)}`,
      );
    }
  }
}

/** The columns a file rule's key_prefix (or url_prefix) names. */
export function placeholders(f: FileRule): string[] {
  return [...(f.ownedPrefix ?? '').matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * What the definition allows that it should not, without being wrong: a
 * file column bound by a column whose value the user may choose freely.
 * Printed by `exporter check` and logged at start; nothing is refused for it.
 * (A file column bound to nothing is refused: checkFiles.)
 */
export function definitionWarnings(def: Definition, catalog: Catalog): string[] {
  const warnings: string[] = [];
  const at = (line: number) => `(${def.file}:${line})`;
  for (const e of def.entities) {
    const table = findTable(catalog, e.table);
    if (!table) continue;
    for (const f of e.files) {
      const setting = f.key ? 'key_prefix' : 'url_prefix';
      for (const column of placeholders(f)) {
        const trusted =
          table.primaryKey.includes(column) ||
          e.owner?.columns.includes(column) ||
          e.through?.columns.includes(column) ||
          catalog.foreignKeys.some((k) => k.table === table.key && k.columns.includes(column));
        if (!trusted && table.columns.has(column)) {
          warnings.push(
            `entities.${e.name}.files.${f.name}: ${setting} names ${column}, which is neither the row's key nor a foreign key: a user who can change it can reach other files ${at(f.line)}`,
          );
        }
      }
    }
  }
  return warnings;
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

function checkOwnership(
  e: EntityRule,
  table: CatalogTable,
  users: CatalogTable,
  byName: Map<string, EntityRule>,
  def: Definition,
  catalog: Catalog,
  problems: string[],
  at: (line: number) => string,
): void {
  const userKey = userKeyOf(def, users);
  const key = userKey === undefined ? undefined : users.columns.get(userKey);
  /** A relation from `from`'s columns to `to`'s: a foreign key says so, or the definition declares it and the columns' types can match. */
  const related = (
    from: CatalogTable,
    columns: readonly string[],
    to: CatalogTable,
    refColumns: readonly string[],
    declared: string | undefined,
    what: string,
    toLabel = refOf(catalog, to),
  ) => {
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
  };
  for (const column of e.owner?.columns ?? []) {
    if (!table.columns.has(column))
      problems.push(`${e.table}.${column}: the owner column does not exist ${at(e.line)}`);
    else if (table.key === users.key) {
      if (column !== userKey)
        problems.push(
          `${e.table}.${column}: the user table's rows are the user's by its key (${userKey}) ${at(e.line)}`,
        );
    } else if (key && userKey !== undefined)
      related(table, [column], users, [userKey], e.owner!.declared, 'the owner column');
  }
  if (e.members) {
    const m = e.members;
    const members = findTable(catalog, m.table);
    if (!members) problems.push(`${m.table}: the membership table of ${e.name} does not exist ${at(e.line)}`);
    else {
      const missing = [m.column, m.userColumn].filter((c) => !members.columns.has(c));
      for (const column of missing) problems.push(`${m.table}.${column}: named but does not exist ${at(e.line)}`);
      const reference = membersReference(e, table, members, catalog);
      if (reference === undefined)
        problems.push(
          `${m.table}.${m.column}: which column of ${e.table} it holds is unknown; give members.references ${at(e.line)}`,
        );
      if (missing.length === 0 && reference !== undefined)
        related(members, [m.column], table, [reference], m.declared, 'the membership column');
      if (missing.length === 0 && userKey !== undefined)
        related(members, [m.userColumn], users, [userKey], m.declared, 'the membership user column');
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
  }
  if (e.through) {
    const parentRule = byName.get(e.through.entity)!;
    const parent = findTable(catalog, parentRule.table);
    const missing = e.through.columns.filter((c) => !table.columns.has(c));
    for (const column of missing)
      problems.push(`${e.table}.${column}: the "through" column does not exist ${at(e.line)}`);
    if (parent && missing.length === 0) {
      const references = throughReferences(e, table, parent, catalog);
      if (!references)
        problems.push(
          `${e.table}.${e.through.columns.join(', ')}: which columns of ${parentRule.table} they hold is unknown; give through.references ${at(e.line)}`,
        );
      else {
        for (const column of references)
          if (!parent.columns.has(column))
            problems.push(
              `${parentRule.table}.${column}: named in through.references but does not exist ${at(e.line)}`,
            );
        if (references.every((c) => parent.columns.has(c)))
          related(
            table,
            e.through.columns,
            parent,
            references,
            e.through.declared,
            'the "through" column',
            `${parentRule.table} (entity ${parentRule.name})`,
          );
      }
    }
    const seen = new Set<string>([e.name]);
    for (let p: EntityRule | undefined = parentRule; p?.through; p = byName.get(p.through.entity)) {
      if (seen.has(p.name)) {
        problems.push(`entities.${e.name}: "through" goes round in a circle ${at(e.line)}`);
        break;
      }
      seen.add(p.name);
    }
  }
}
