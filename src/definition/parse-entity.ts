import { isSeq, type Node } from 'yaml';
import {
  type ColumnRule,
  type EntityRule,
  type FileSourceRule,
  type MembersRule,
  PROCESSING_FIELDS,
} from '../model/definition.ts';
import { parseErase } from './parse-erase.ts';
import { parseFiles } from './parse-files.ts';
import { parseProcessing } from './parse-processing.ts';
import { IDENTIFIER, isColumnName, MAX_NAME_BYTES, type YamlReader } from './yaml-reader.ts';

type OwnerRule = NonNullable<EntityRule['owner']>;
type ThroughRule = NonNullable<EntityRule['through']>;

/** One entity: its table, how its rows belong to the user, its columns and its files. */
export function parseEntity(
  r: YamlReader,
  entityName: string,
  body: Node,
  key: Node,
  fileSources: Readonly<Record<string, FileSourceRule>>,
): EntityRule {
  const at = `entities.${entityName}`;
  if (!IDENTIFIER.test(entityName)) r.problem(key, at, 'the name must be a plain lower-case name (it names the files)');
  const fields = Object.fromEntries(
    r
      .entries(body, at, [
        'table',
        'description',
        'label',
        'owner',
        'members',
        'through',
        'order_by',
        'columns',
        'files',
        'erase',
        ...PROCESSING_FIELDS.map((f) => f.yaml),
      ])
      .map(([k, v]) => [k, v]),
  );
  const entity: EntityRule = {
    name: entityName,
    line: r.lineOf(key),
    table: fields.table ? r.table(fields.table, `${at}.table`) : entityName,
    description: r.text(fields.description, `${at}.description`),
    orderBy: r.columns(fields.order_by, `${at}.order_by`),
    columns: [],
    files: [],
    processing: parseProcessing(r, at, (key) => fields[key]),
  };
  if (fields.erase) entity.erase = parseErase(r, at, fields.erase);
  if (fields.owner) entity.owner = parseOwner(r, at, fields.owner);
  if (fields.members) entity.members = parseMembers(r, at, fields.members);
  if (fields.through) entity.through = parseThrough(r, at, fields.through);
  if (!entity.owner && !entity.members && !entity.through)
    r.problem(key, at, 'says nowhere how its rows belong to the user (owner, members or through)');
  if (entity.through && (entity.owner || entity.members))
    r.problem(key, at, '"through" cannot be combined with "owner" or "members"');

  entity.columns = parseColumns(r, at, key, fields.columns, entity);
  entity.files = parseFiles(r, at, entityName, fields.files, entity.columns, fileSources);
  if (fields.label) {
    entity.label = r.column(fields.label, `${at}.label`);
    if (!entity.columns.some((c) => c.name === entity.label && c.export !== undefined))
      r.problem(fields.label, `${at}.label`, `must name one of its exported columns, not "${entity.label}"`);
  }
  return entity;
}

/** `owner`: the entity's column (or columns) that hold the user's key. */
function parseOwner(r: YamlReader, at: string, node: Node): OwnerRule {
  const owner = Object.fromEntries(r.entries(node, `${at}.owner`, ['column', 'columns', 'declared']));
  const columns = owner.columns
    ? r.columns(owner.columns, `${at}.owner.columns`)
    : owner.column
      ? [r.column(owner.column, `${at}.owner.column`)]
      : [];
  if ((owner.column === undefined) === (owner.columns === undefined))
    r.problem(node, `${at}.owner`, 'needs either "column" or "columns"');
  return { columns, ...declared(r, owner.declared, `${at}.owner.declared`) };
}

/** `members`: a membership table whose rows link the entity's rows to users. */
function parseMembers(r: YamlReader, at: string, node: Node): MembersRule {
  const m = Object.fromEntries(
    r.entries(node, `${at}.members`, ['table', 'column', 'user_column', 'references', 'declared', 'omit']),
  );
  const omit: Record<string, string> = {};
  for (const [column, reason] of m.omit ? r.entries(m.omit, `${at}.members.omit`) : [])
    omit[column] = r.text(reason, `${at}.members.omit.${column}`);
  const members: MembersRule = {
    table: r.table(m.table, `${at}.members.table`),
    column: r.column(m.column, `${at}.members.column`),
    userColumn: r.column(m.user_column, `${at}.members.user_column`),
    omit,
    ...(m.references ? { references: r.column(m.references, `${at}.members.references`) } : {}),
    ...declared(r, m.declared, `${at}.members.declared`),
  };
  return members;
}

/** `through`: the columns that hold the key of a row of another entity, whose rows are the user's. */
function parseThrough(r: YamlReader, at: string, node: Node): ThroughRule {
  const t = Object.fromEntries(
    r.entries(node, `${at}.through`, ['entity', 'column', 'columns', 'references', 'declared']),
  );
  const columns = t.columns
    ? r.columns(t.columns, `${at}.through.columns`)
    : t.column
      ? [r.column(t.column, `${at}.through.column`)]
      : [];
  if ((t.column === undefined) === (t.columns === undefined))
    r.problem(node, `${at}.through`, 'needs either "column" or "columns" (several, for a composite key)');
  const references = t.references
    ? isSeq(t.references)
      ? r.columns(t.references, `${at}.through.references`)
      : [r.column(t.references, `${at}.through.references`)]
    : undefined;
  if (references && references.length !== columns.length)
    r.problem(t.references, `${at}.through.references`, `names ${references.length} column(s) for ${columns.length}`);
  return {
    entity: r.name(t.entity, `${at}.through.entity`),
    columns,
    ...(references ? { references } : {}),
    ...declared(r, t.declared, `${at}.through.declared`),
  };
}

/**
 * `declared: "why"` on a relation no foreign key states (the application
 * declares none, or cannot: a text column naming users of other servers):
 * check verifies the columns and their types instead, and README.txt says
 * the relation is declared.
 */
function declared(r: YamlReader, node: Node | undefined, where: string): { declared?: string } {
  if (!node) return {};
  const why = r.text(node, where);
  if (why && why.trim().length < 10)
    r.problem(node, where, 'must say, in words, why no foreign key states this relation');
  return { declared: why };
}

/** Every column of the entity's table, exported (with what it means) or omitted (with why). */
function parseColumns(r: YamlReader, at: string, key: Node, node: Node | undefined, entity: EntityRule): ColumnRule[] {
  const columns: ColumnRule[] = [];
  for (const [columnName, rule, columnKey] of node
    ? r.entries(node, `${at}.columns`)
    : r.missing([], key, `${at}.columns`, 'is required')) {
    const where = `${at}.columns.${columnName}`;
    if (!isColumnName(columnName))
      r.problem(columnKey, where, `is not a PostgreSQL column name (1 to ${MAX_NAME_BYTES} bytes, no NUL)`);
    const c = Object.fromEntries(r.entries(rule, where, ['export', 'omit', 'derived', 'not_secret']));
    const column: ColumnRule = { name: columnName, line: r.lineOf(columnKey) };
    if (c.export) column.export = r.text(c.export, `${where}.export`);
    if (c.omit) column.omit = r.text(c.omit, `${where}.omit`);
    if (c.derived) column.derived = r.text(c.derived, `${where}.derived`);
    if (c.not_secret) column.notSecret = r.text(c.not_secret, `${where}.not_secret`);
    if ((column.export === undefined) === (column.omit === undefined))
      r.problem(columnKey, where, 'must be either exported (export: what it means) or omitted (omit: why)');
    if (column.derived !== undefined && column.derived !== 'relationship' && !/^members\..+$/.test(column.derived)) {
      r.problem(c.derived, `${where}.derived`, 'must be "relationship" or "members.<column>"');
    }
    if (column.derived?.startsWith('members.') && !entity.members)
      r.problem(c.derived, `${where}.derived`, 'needs "members" on the entity');
    if (column.derived && column.omit !== undefined)
      r.problem(columnKey, where, 'a derived column is exported or not listed at all');
    columns.push(column);
  }
  return columns;
}
