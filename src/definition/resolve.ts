import type { ExportColumn, ExportEntity, ExportFile, ExportReference } from '../export/entities.ts';
import type { Catalog } from './catalog.ts';
import { kindOfType } from '../export/column-kinds.ts';
import { userKeyColumn } from './check.ts';
import { type Definition, type EntityRule, type FileRule, PLACEHOLDER, type Processing } from './definition.ts';

/**
 * Turns a checked definition into the export's entities: per entity, the
 * exported columns in the file's order with their kinds (from the live
 * catalog), FROM and WHERE for the user's rows (from the declared ownership,
 * along the foreign keys the check verified), and the total order. `:user`
 * stands for the user id literal (src/export/queries.ts inlines it), cast to
 * the user key's type, so that a comparison with an owner column uses its index.
 */
export function resolveEntities(def: Definition, catalog: Catalog): ExportEntity[] {
  const keyType = catalog.tables.get(def.userTable)!.get(userKeyColumn(def, catalog)!)!.sqlType;
  const typed = (sql: string) => sql.replaceAll(':user', `(:user)::${keyType}`);
  return resolveUntyped(def, catalog).map((e) => ({ ...e, from: typed(e.from), columns: e.columns.map((c) => (c.sql === undefined ? c : { ...c, sql: typed(c.sql) })) }));
}

function resolveUntyped(def: Definition, catalog: Catalog): ExportEntity[] {
  const byName = new Map(def.entities.map((e) => [e.name, e]));
  const refColumn = (table: string, column: string) => catalog.foreignKeys.find((f) => f.table === table && f.column === column)!.refColumn;

  /** SQL for the values of `column` of the user's rows of `e` (used by the entities that belong through it). */
  const idsOf = (e: EntityRule, column: string): string => {
    if (e.through) {
      const parent = byName.get(e.through.entity)!;
      return `select p.${column} from ${e.table} p where p.${e.through.column} = any(array(${idsOf(parent, refColumn(e.table, e.through.column))}))`;
    }
    const ways: string[] = [];
    if (e.owner) ways.push(`select p.${column} from ${e.table} p where ${ownedBy(e.owner.columns, 'p')}`);
    if (e.members) {
      const m = e.members;
      ways.push(
        refColumn(m.table, m.column) === column
          ? `select m.${m.column} from ${m.table} m where m.${m.userColumn} = :user`
          : `select p.${column} from ${e.table} p join ${m.table} m on m.${m.column} = p.${refColumn(m.table, m.column)} where m.${m.userColumn} = :user`,
      );
    }
    return ways.join('\n  union ');
  };

  return def.entities.map((e): ExportEntity => {
    const table = catalog.tables.get(e.table)!;
    const members = e.members ? catalog.tables.get(e.members.table)! : undefined;
    const columns: ExportColumn[] = [];
    for (const c of e.columns) {
      if (c.export === undefined) continue;
      if (c.derived === 'relationship') {
        const owned = e.owner ? ownedBy(e.owner.columns, 't') : 'false';
        columns.push({ name: c.name, kind: 'text', sql: `case when ${owned} then 'owner' else 'member' end`, description: c.export, nullable: false });
      } else if (c.derived) {
        const column = c.derived.slice('members.'.length);
        // A left join: null where the user is the owner and not also a member.
        columns.push({ name: c.name, kind: kindOfType(members!.get(column)!.type)!, sql: `m.${column}`, description: c.export, nullable: true });
      } else {
        const live = table.get(c.name)!;
        columns.push({ name: c.name, kind: kindOfType(live.type)!, description: c.export, nullable: live.nullable });
      }
    }
    const rowKey = catalog.primaryKeys.get(e.table)?.[0] ?? 'id';
    const files = e.files.map((rule) => {
      const file = exportFile(e, rule, rowKey);
      columns.push({ name: file.column, kind: 'text', sql: file.path, description: rule.export, nullable: true, fileLocator: file.locator });
      return file;
    });
    return {
      name: e.name,
      description: e.description,
      columns,
      from: fromClause(e, byName, idsOf, refColumn),
      orderBy: e.orderBy.map((c) => `t.${c}`).join(', '),
      files,
      ...(e.label ? { label: e.label } : {}),
      ...(exportedKey(e, catalog) ? { key: exportedKey(e, catalog) } : {}),
      references: referencesOf(e, def, catalog),
      ...processingOf(e, def),
    };
  });
}

/** The Art. 15 information of an entity: its own fields over the file's; nothing when neither gives any. */
function processingOf(e: EntityRule, def: Definition): { processing?: Processing } {
  const processing: Processing = { ...def.processing, ...e.processing };
  return Object.keys(processing).length > 0 ? { processing } : {};
}

/** The entity's one-column primary key, where the entity exports it under its own name. */
function exportedKey(e: EntityRule, catalog: Catalog): string | undefined {
  const key = catalog.primaryKeys.get(e.table);
  if (key?.length !== 1) return undefined;
  return e.columns.some((c) => c.name === key[0] && c.export !== undefined && c.derived === undefined) ? key[0] : undefined;
}

/**
 * The exported columns whose foreign key points at the key of another
 * entity's table (a feature's project_id, a run's feature_id), for the
 * viewer's links. A table exported as two entities is ambiguous: no link.
 */
function referencesOf(e: EntityRule, def: Definition, catalog: Catalog): ExportReference[] {
  const references: ExportReference[] = [];
  for (const c of e.columns) {
    if (c.export === undefined || c.derived !== undefined) continue;
    const fk = catalog.foreignKeys.find((f) => f.table === e.table && f.column === c.name);
    if (!fk) continue;
    const targets = def.entities.filter((t) => t.table === fk.refTable && exportedKey(t, catalog) === fk.refColumn);
    if (targets.length === 1) references.push({ column: c.name, entity: targets[0]!.name });
  }
  return references;
}

/**
 * Where a row's file goes in the archive, computed by PostgreSQL so that the
 * rows (JSON, CSV) and the file itself agree: files/<entity>/<row key>/<name>,
 * with a folder per file column when a row has several. The row key makes the
 * path unique (exporter_row_folder(), sql/000007_unique_file_paths.sql, tags
 * a key that had to be changed, so two keys never share a folder);
 * exporter_file_name() (sql/000006_files.sql) makes each part safe: no
 * separators, no dot-segments, no control or bidi characters, NFC, at most
 * 120 characters and 200 bytes. The name is the original file name
 * when the definition has one, else the last part of the key or URL.
 */
function exportFile(e: EntityRule, f: FileRule, rowKey: string): ExportFile {
  const locator = `t.${f.key ?? f.url}`;
  const lastPart = f.url ? `regexp_replace(regexp_replace(${locator}, '[?#].*$', ''), '^.*/', '')` : `regexp_replace(${locator}, '^.*/', '')`;
  const original = f.nameColumn ? `coalesce(nullif(t.${f.nameColumn}, ''), ${lastPart})` : lastPart;
  const folder = e.files.length > 1 ? `'/${f.name}'` : `''`;
  const path = `case when coalesce(${locator}, '') = '' then null else 'files/${e.name}/' || exporter_row_folder(t.${rowKey}::text) || ${folder} || '/' || exporter_file_name(${original}) end`;
  return {
    column: f.name,
    source: f.source,
    locator,
    owned: f.ownedPrefix === undefined ? 'true' : `coalesce(starts_with(${locator}, ${prefixSql(f.ownedPrefix)}), false)`,
    path,
    ...(f.contentTypeColumn ? { contentType: `t.${f.contentTypeColumn}` } : {}),
    ...(f.sizeColumn ? { size: `t.${f.sizeColumn}` } : {}),
  };
}

/**
 * A key_prefix as SQL: its text, with each {column} the row's value. A value
 * that is empty or holds a "/" makes the whole prefix null (and so no key the
 * row's): "a/b" would otherwise let the row of user "a" reach the files of
 * user "a/b".
 */
function prefixSql(template: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > at) parts.push(textLiteral(template.slice(at, m.index)));
    const value = `t.${m[1]}::text`;
    parts.push(`(case when ${value} <> '' and strpos(${value}, '/') = 0 then ${value} end)`);
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push(textLiteral(template.slice(at)));
  return parts.join(' || ');
}

/** A string literal (standard_conforming_strings: backslashes are plain characters). */
function textLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function fromClause(
  e: EntityRule,
  byName: Map<string, EntityRule>,
  idsOf: (e: EntityRule, column: string) => string,
  refColumn: (table: string, column: string) => string,
): string {
  if (e.through) {
    // `= any(array(…))` makes the parent's ids one value computed first, so the
    // query is an index scan on the column; `in (… union …)` let the planner
    // pick a hash join over the whole table, which costs light users dearly.
    const parent = byName.get(e.through.entity)!;
    return `${e.table} t where t.${e.through.column} = any(array(${idsOf(parent, refColumn(e.table, e.through.column))}))`;
  }
  if (e.members) {
    const m = e.members;
    const join = `${e.table} t left join ${m.table} m on m.${m.column} = t.${refColumn(m.table, m.column)} and m.${m.userColumn} = :user`;
    return e.owner ? `${join}\n  where ${ownedBy(e.owner.columns, 't')} or m.${m.userColumn} is not null` : `${join}\n  where m.${m.userColumn} is not null`;
  }
  return `${e.table} t where ${ownedBy(e.owner!.columns, 't')}`;
}

/** `t.owner_id = :user`, or `(t.sender_id = :user or t.recipient_id = :user)` for several owner columns. */
function ownedBy(columns: readonly string[], alias: string): string {
  const tests = columns.map((c) => `${alias}.${c} = :user`);
  return tests.length === 1 ? tests[0]! : `(${tests.join(' or ')})`;
}
