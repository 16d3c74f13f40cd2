import { kindOfType } from '../model/column-kinds.ts';
import { type Definition, type EntityRule, type FileRule, PLACEHOLDER, type Processing } from '../model/definition.ts';
import type { ExportColumn, ExportEntity, ExportFile, ExportReference } from '../model/entities.ts';
import { quoteIdent, textLiteral } from '../model/identifiers.ts';
import { type Catalog, type CatalogTable, findTable, foreignKeysOn } from './catalog.ts';
import { userKeyColumn } from './check.ts';
import { membersReference, throughReferences } from './check-relations.ts';

/**
 * Turns a checked definition into the export's entities: per entity, the
 * exported columns in the file's order with their kinds (from the live
 * catalog), FROM and WHERE for the user's rows (from the declared ownership,
 * along the foreign keys the check verified), and the total order. `:user`
 * stands for the user id literal (src/archive/queries.ts inlines it), cast to
 * the user key's type, so that a comparison with an owner column uses its index.
 */
export function resolveEntities(def: Definition, catalog: Catalog): ExportEntity[] {
  const users = findTable(catalog, def.userTable)!;
  const keyType = users.columns.get(userKeyColumn(def, catalog)!)!.sqlType;
  const typed = (sql: string) => sql.replaceAll(':user', `(:user)::${keyType}`);
  return new EntityResolver(def, catalog).resolve().map((e) => ({
    ...e,
    from: typed(e.from),
    columns: e.columns.map((c) => (c.sql === undefined ? c : { ...c, sql: typed(c.sql) })),
  }));
}

/** A checked entity's tables, as the live catalog has them. */
interface Placed {
  rule: EntityRule;
  table: CatalogTable;
  members?: CatalogTable;
  parent?: Placed;
}

const q = quoteIdent;

/** The export's entities of one checked definition, each entity's tables looked up in the catalog once. */
class EntityResolver {
  private readonly def: Definition;
  private readonly catalog: Catalog;
  private readonly placed = new Map<string, Placed>();

  constructor(def: Definition, catalog: Catalog) {
    this.def = def;
    this.catalog = catalog;
  }

  resolve(): ExportEntity[] {
    return this.def.entities.map((rule) => this.entity(rule));
  }

  private place(rule: EntityRule): Placed {
    if (!this.placed.has(rule.name)) {
      const parentRule = rule.through ? this.def.entities.find((p) => p.name === rule.through!.entity)! : undefined;
      this.placed.set(rule.name, {
        rule,
        table: findTable(this.catalog, rule.table)!,
        ...(rule.members ? { members: findTable(this.catalog, rule.members.table)! } : {}),
        ...(parentRule ? { parent: this.place(parentRule) } : {}),
      });
    }
    return this.placed.get(rule.name)!;
  }

  /** SQL for the values of `columns` of the user's rows of `e` (what the entities that belong through it compare with). */
  private idsOf(e: Placed, columns: readonly string[]): string {
    const list = (alias: string) => columns.map((c) => `${alias}.${q(c)}`).join(', ');
    if (e.rule.through) {
      return `select ${list('p')} from ${e.table.key} p where ${this.throughTest(e, 'p')}`;
    }
    const ways: string[] = [];
    if (e.rule.owner)
      ways.push(`select ${list('p')} from ${e.table.key} p where ${ownedBy(e.rule.owner.columns, 'p')}`);
    if (e.rule.members) {
      const m = e.rule.members;
      const reference = membersReference(e.rule, e.table, e.members!, this.catalog)!;
      ways.push(
        columns.length === 1 && columns[0] === reference
          ? `select m.${q(m.column)} from ${e.members!.key} m where m.${q(m.userColumn)} = :user`
          : `select ${list('p')} from ${e.table.key} p join ${e.members!.key} m on m.${q(m.column)} = p.${q(reference)} where m.${q(m.userColumn)} = :user`,
      );
    }
    return ways.join('\n  union ');
  }

  private entity(rule: EntityRule): ExportEntity {
    const e = this.place(rule);
    const { table } = e;
    const columns = this.columnsOf(e);
    const rowKey = table.primaryKey[0] ?? 'id';
    const files = rule.files.map((f) => {
      const file = exportFile(rule, f, rowKey);
      columns.push({
        name: file.column,
        kind: 'text',
        sql: file.path,
        description: f.export,
        nullable: true,
        fileLocator: file.locator,
      });
      return file;
    });
    return {
      name: rule.name,
      description: rule.description,
      columns,
      from: this.fromClause(e),
      orderBy: rule.orderBy.map((c) => `t.${q(c)}`).join(', '),
      files,
      ...(rule.label ? { label: rule.label } : {}),
      ...(exportedKey(rule, table) ? { key: exportedKey(rule, table) } : {}),
      references: referencesOf(rule, table, this.def, this.catalog),
      ...(declaredRelations(rule) ? { declared: declaredRelations(rule) } : {}),
      ...processingOf(rule, this.def),
    };
  }

  /** The exported columns, in the definition's order: the table's own, and those derived from the membership. */
  private columnsOf(e: Placed): ExportColumn[] {
    const { rule, table } = e;
    const columns: ExportColumn[] = [];
    for (const c of rule.columns) {
      if (c.export === undefined) continue;
      if (c.derived === 'relationship') {
        const owned = rule.owner ? ownedBy(rule.owner.columns, 't') : 'false';
        columns.push({
          name: c.name,
          kind: 'text',
          sql: `case when ${owned} then 'owner' else 'member' end`,
          description: c.export,
          nullable: false,
        });
      } else if (c.derived) {
        const column = c.derived.slice('members.'.length);
        // A left join: null where the user is the owner and not also a member.
        columns.push({
          name: c.name,
          kind: kindOfType(e.members!.columns.get(column)!.type)!,
          sql: `m.${q(column)}`,
          description: c.export,
          nullable: true,
        });
      } else {
        const live = table.columns.get(c.name)!;
        columns.push({ name: c.name, kind: kindOfType(live.type)!, description: c.export, nullable: live.nullable });
      }
    }
    return columns;
  }

  /** The row's columns that hold a parent row's key, tested against the parent's user rows. */
  private throughTest(e: Placed, alias: string): string {
    const t = e.rule.through!;
    const references = throughReferences(e.rule, e.table, e.parent!.table, this.catalog)!;
    const parentIds = this.idsOf(e.parent!, references);
    // `= any(array(…))` makes the parent's ids one value computed first, so the
    // query is an index scan on the column; `in (… union …)` let the planner
    // pick a hash join over the whole table, which costs light users dearly.
    // A composite key is compared as a row.
    if (t.columns.length === 1) return `${alias}.${q(t.columns[0]!)} = any(array(${parentIds}))`;
    return `(${t.columns.map((c) => `${alias}.${q(c)}`).join(', ')}) in (${parentIds})`;
  }

  private fromClause(e: Placed): string {
    const { rule, table } = e;
    if (rule.through) return `${table.key} t where ${this.throughTest(e, 't')}`;
    if (rule.members) {
      const m = rule.members;
      const reference = membersReference(rule, table, e.members!, this.catalog)!;
      const join = `${table.key} t left join ${e.members!.key} m on m.${q(m.column)} = t.${q(reference)} and m.${q(m.userColumn)} = :user`;
      return rule.owner
        ? `${join}\n  where ${ownedBy(rule.owner.columns, 't')} or m.${q(m.userColumn)} is not null`
        : `${join}\n  where m.${q(m.userColumn)} is not null`;
    }
    return `${table.key} t where ${ownedBy(rule.owner!.columns, 't')}`;
  }
}

/** Which of the entity's relations to the user are only declared (no foreign key says so): README.txt says so, for the privacy officer. */
function declaredRelations(rule: EntityRule): string | undefined {
  const why = rule.owner?.declared ?? rule.members?.declared ?? rule.through?.declared;
  return why;
}

/** The Art. 15 information of an entity: its own fields over the file's; nothing when neither gives any. */
function processingOf(e: EntityRule, def: Definition): { processing?: Processing } {
  const processing: Processing = { ...def.processing, ...e.processing };
  return Object.keys(processing).length > 0 ? { processing } : {};
}

/** The entity's one-column primary key, where the entity exports it under its own name. */
function exportedKey(rule: EntityRule, table: CatalogTable): string | undefined {
  const key = table.primaryKey;
  if (key.length !== 1) return undefined;
  return rule.columns.some((c) => c.name === key[0] && c.export !== undefined && c.derived === undefined)
    ? key[0]
    : undefined;
}

/**
 * The exported columns whose foreign key points at the key of another
 * entity's table (a feature's project_id, a run's feature_id), for the
 * viewer's links. A table exported as two entities is ambiguous: no link.
 */
function referencesOf(rule: EntityRule, table: CatalogTable, def: Definition, catalog: Catalog): ExportReference[] {
  const references: ExportReference[] = [];
  for (const c of rule.columns) {
    if (c.export === undefined || c.derived !== undefined) continue;
    const fk = foreignKeysOn(catalog, table.key, [c.name])[0];
    if (!fk) continue;
    const targets = def.entities.filter((t) => {
      const target = findTable(catalog, t.table);
      return target?.key === fk.refTable && exportedKey(t, target) === fk.refColumns[0];
    });
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
  const locator = `t.${quoteIdent(f.key ?? f.url!)}`;
  const lastPart = f.url
    ? `regexp_replace(regexp_replace(${locator}, '[?#].*$', ''), '^.*/', '')`
    : `regexp_replace(${locator}, '^.*/', '')`;
  const original = f.nameColumn ? `coalesce(nullif(t.${quoteIdent(f.nameColumn)}, ''), ${lastPart})` : lastPart;
  const folder = e.files.length > 1 ? `'/${f.name}'` : `''`;
  const path = `case when coalesce(${locator}, '') = '' then null else 'files/${e.name}/' || exporter_row_folder(t.${quoteIdent(rowKey)}::text) || ${folder} || '/' || exporter_file_name(${original}) end`;
  return {
    column: f.name,
    source: f.source,
    locator,
    owned:
      f.ownedPrefix === undefined ? 'true' : `coalesce(starts_with(${locator}, ${prefixSql(f.ownedPrefix)}), false)`,
    path,
    ...(f.contentTypeColumn ? { contentType: `t.${quoteIdent(f.contentTypeColumn)}` } : {}),
    ...(f.sizeColumn ? { size: `t.${quoteIdent(f.sizeColumn)}` } : {}),
  };
}

/**
 * A key_prefix as SQL: its text, with each {column} the row's value. A value
 * that is empty or holds a "/" makes the whole prefix null (and so no key the
 * row's): "a/b" would otherwise let the row of user "a" reach the files of
 * user "a/b".
 */
export function prefixSql(template: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > at) parts.push(textLiteral(template.slice(at, m.index)));
    const value = `t.${quoteIdent(m[1]!)}::text`;
    parts.push(`(case when ${value} <> '' and strpos(${value}, '/') = 0 then ${value} end)`);
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push(textLiteral(template.slice(at)));
  return parts.join(' || ');
}

/** `t.owner_id = :user`, or `(t.sender_id = :user or t.recipient_id = :user)` for several owner columns. */
function ownedBy(columns: readonly string[], alias: string): string {
  const tests = columns.map((c) => `${alias}.${quoteIdent(c)} = :user`);
  return tests.length === 1 ? tests[0]! : `(${tests.join(' or ')})`;
}
