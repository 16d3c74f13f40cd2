import { kindOfType } from '../export/column-kinds.ts';
import type { Catalog, ForeignKey } from './catalog.ts';
import { type Definition, type EntityRule, type FileRule, PLACEHOLDER, SECRET_LOOKING } from './definition.ts';


/**
 * Compares a definition with the live database and returns every problem,
 * one line each (empty when they agree): a column nobody classified (a
 * migration added it since), a classified column or table that no longer
 * exists, an ownership path that follows no foreign key, a secret-looking
 * column exported without `not_secret`, a table that references users (or an
 * exported entity) and is neither exported nor left out.
 */
export function checkDefinition(def: Definition, catalog: Catalog): string[] {
  const problems: string[] = [];
  const at = (line: number) => `(${def.file}:${line})`;
  const fk = (table: string, column: string): ForeignKey | undefined => catalog.foreignKeys.find((f) => f.table === table && f.column === column);
  const users = catalog.tables.get(def.userTable);
  if (!users) problems.push(`${def.userTable}: the user table does not exist ${at(1)}`);
  else problems.push(...checkUserColumns(def, catalog, at));

  const byName = new Map(def.entities.map((e) => [e.name, e]));
  for (const e of def.entities) {
    const table = catalog.tables.get(e.table);
    if (!table) {
      problems.push(`${e.table}: table of entity ${e.name} does not exist ${at(e.line)}`);
      continue;
    }
    const own = e.columns.filter((c) => c.derived === undefined);
    const classified = new Set(own.map((c) => c.name));
    for (const column of table.keys()) {
      if (!classified.has(column)) problems.push(`${e.table}.${column}: neither exported nor omitted (a column added since the definition was written?) ${at(e.line)}`);
    }
    for (const c of own) {
      const live = table.get(c.name);
      if (!live) problems.push(`${e.table}.${c.name}: classified but does not exist ${at(c.line)}`);
      else if (c.export !== undefined && !kindOfType(live.type)) problems.push(`${e.table}.${c.name}: type ${live.type} cannot be exported yet ${at(c.line)}`);
    }
    for (const c of e.columns) {
      if (c.export !== undefined && SECRET_LOOKING.test(c.name) && !c.notSecret) {
        problems.push(`${e.table}.${c.name}: looks secret and is exported; omit it, or say why it is not secret (not_secret: …) ${at(c.line)}`);
      }
    }
    for (const column of e.orderBy) if (!table.has(column)) problems.push(`${e.table}.${column}: in order_by but does not exist ${at(e.line)}`);
    checkFiles(e, catalog, problems, at);
    checkOwnership(e, byName, def, catalog, fk, problems, at);
  }

  // Every table that holds users' data must be decided on: exported, a membership table, or left out.
  const decided = new Set<string>([def.userTable, ...def.entities.map((e) => e.table), ...def.entities.flatMap((e) => (e.members ? [e.members.table] : [])), ...Object.keys(def.leftOut)]);
  const exportedTables = new Set([def.userTable, ...def.entities.map((e) => e.table)]);
  for (const f of catalog.foreignKeys) {
    if (exportedTables.has(f.refTable) && !decided.has(f.table)) {
      decided.add(f.table);
      problems.push(`${f.table}: references ${f.refTable} (${f.table}.${f.column}) but is neither exported nor listed in left_out ${at(1)}`);
    }
  }
  for (const table of Object.keys(def.leftOut)) if (!catalog.tables.has(table)) problems.push(`${table}: in left_out but does not exist ${at(1)}`);
  return problems;
}

/**
 * The user table's key is one column that identifies a user (the named
 * `user_key`, else the table's one-column primary key), and the email's
 * columns exist as text.
 */
function checkUserColumns(def: Definition, catalog: Catalog, at: (line: number) => string): string[] {
  const problems: string[] = [];
  const users = catalog.tables.get(def.userTable)!;
  const key = userKeyColumn(def, catalog);
  if (key === undefined) problems.push(`${def.userTable}: has no one-column primary key; name the column that identifies a user (user_key: …) ${at(1)}`);
  else if (!users.has(key)) problems.push(`${def.userTable}.${key}: the user key does not exist ${at(1)}`);
  for (const [role, column] of [['user_email', def.userEmail], ['user_name', def.userName]] as const) {
    if (column === undefined) continue;
    const live = users.get(column);
    if (!live) problems.push(`${def.userTable}.${column}: ${role} does not exist ${at(1)}`);
    else if (!TEXT_TYPES.has(live.type)) problems.push(`${def.userTable}.${column}: ${role} must be text, it is ${live.type} ${at(1)}`);
  }
  return problems;
}

/** The column a request's user_id names: `user_key`, else the user table's one-column primary key. */
export function userKeyColumn(def: Definition, catalog: Catalog): string | undefined {
  if (def.userKey !== undefined) return def.userKey;
  const key = catalog.primaryKeys.get(def.userTable);
  return key?.length === 1 ? key[0] : undefined;
}

const TEXT_TYPES = new Set(['text', 'character varying', 'character']);
const SIZE_TYPES = new Set(['integer', 'bigint', 'numeric']);

/** A file rule's columns exist with usable types, and its rows have a one-column key to name their folder. */
function checkFiles(e: EntityRule, catalog: Catalog, problems: string[], at: (line: number) => string): void {
  if (e.files.length === 0) return;
  const table = catalog.tables.get(e.table)!;
  const key = catalog.primaryKeys.get(e.table);
  if (key?.length !== 1) problems.push(`${e.table}: has files but no one-column primary key to name each row's folder (files/${e.name}/<key>/) ${at(e.line)}`);
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
      const live = table.get(column);
      if (!live) problems.push(`${e.table}.${column}: the file's ${role} column does not exist ${at(f.line)}`);
      else if (!types.has(live.type)) problems.push(`${e.table}.${column}: the file's ${role} column is ${live.type}, expected ${[...types].join(' or ')} ${at(f.line)}`);
    }
    if (table.has(f.name)) problems.push(`${e.table}.${f.name}: the path column of a file cannot have the name of a column of the table ${at(f.line)}`);
    for (const column of placeholders(f)) {
      if (!table.has(column)) problems.push(`${e.table}.${column}: named in the ${f.key ? 'key' : 'url'}_prefix of ${f.name} but does not exist ${at(f.line)}`);
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
    for (const f of e.files) {
      const setting = f.key ? 'key_prefix' : 'url_prefix';
      const columns = placeholders(f);
      const key = catalog.primaryKeys.get(e.table) ?? [];
      for (const column of columns) {
        const trusted = key.includes(column) || e.owner?.columns.includes(column) || e.through?.column === column || catalog.foreignKeys.some((k) => k.table === e.table && k.column === column);
        if (!trusted && catalog.tables.get(e.table)?.has(column)) {
          warnings.push(`entities.${e.name}.files.${f.name}: ${setting} names ${column}, which is neither the row's key nor a foreign key: a user who can change it can reach other files ${at(f.line)}`);
        }
      }
    }
  }
  return warnings;
}

function checkOwnership(
  e: EntityRule,
  byName: Map<string, EntityRule>,
  def: Definition,
  catalog: Catalog,
  fk: (table: string, column: string) => ForeignKey | undefined,
  problems: string[],
  at: (line: number) => string,
): void {
  const table = catalog.tables.get(e.table)!;
  for (const column of e.owner?.columns ?? []) {
    if (!table.has(column)) problems.push(`${e.table}.${column}: the owner column does not exist ${at(e.line)}`);
    else if (e.table !== def.userTable && fk(e.table, column)?.refTable !== def.userTable) {
      problems.push(`${e.table}.${column}: the owner column has no foreign key to ${def.userTable} ${at(e.line)}`);
    }
  }
  if (e.members) {
    const m = e.members;
    const members = catalog.tables.get(m.table);
    if (!members) problems.push(`${m.table}: the membership table of ${e.name} does not exist ${at(e.line)}`);
    else {
      if (fk(m.table, m.column)?.refTable !== e.table) problems.push(`${m.table}.${m.column}: has no foreign key to ${e.table} ${at(e.line)}`);
      if (fk(m.table, m.userColumn)?.refTable !== def.userTable) problems.push(`${m.table}.${m.userColumn}: has no foreign key to ${def.userTable} ${at(e.line)}`);
      const used = new Set([m.column, m.userColumn, ...Object.keys(m.omit), ...e.columns.flatMap((c) => (c.derived?.startsWith('members.') ? [c.derived.slice(8)] : []))]);
      for (const column of members.keys()) if (!used.has(column)) problems.push(`${m.table}.${column}: neither exported nor omitted ${at(e.line)}`);
      for (const column of used) if (!members.has(column)) problems.push(`${m.table}.${column}: named but does not exist ${at(e.line)}`);
    }
  }
  if (e.through) {
    const parent = byName.get(e.through.entity)!;
    if (!table.has(e.through.column)) problems.push(`${e.table}.${e.through.column}: the "through" column does not exist ${at(e.line)}`);
    else if (fk(e.table, e.through.column)?.refTable !== parent.table) {
      problems.push(`${e.table}.${e.through.column}: has no foreign key to ${parent.table} (entity ${parent.name}) ${at(e.line)}`);
    }
    const seen = new Set<string>([e.name]);
    for (let p: EntityRule | undefined = parent; p?.through; p = byName.get(p.through.entity)) {
      if (seen.has(p.name)) {
        problems.push(`entities.${e.name}: "through" goes round in a circle ${at(e.line)}`);
        break;
      }
      seen.add(p.name);
    }
  }
}
