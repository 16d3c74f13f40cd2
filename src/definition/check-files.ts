import { SIZE_TYPES, TEXT_TYPES } from '../model/database-types.ts';
import { type Definition, type EntityRule, type FileRule, PLACEHOLDER } from '../model/definition.ts';
import { type Catalog, type CatalogTable, findTable } from './catalog.ts';

/** The types a column holding text (a key, a URL, a name, an email) may have. */

/** A file rule's columns exist with usable types, its rows have a one-column key to name their folder, and its keys are bound to their owner. */
export function checkFiles(e: EntityRule, table: CatalogTable, problems: string[], at: (line: number) => string): void {
  if (e.files.length === 0) return;
  if (table.primaryKey.length !== 1)
    problems.push(
      `${e.table}: has files but no one-column primary key to name each row's folder (files/${e.name}/<key>/) ${at(e.line)}`,
    );
  for (const f of e.files) {
    const uses: [string | undefined, string, ReadonlySet<string>][] = [
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
