import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { ProblemsError } from '../errors.ts';
import { type ColumnRule, type Definition, type EntityRule, type FileRule, type FileSourceRule, type MembersRule, PLACEHOLDER } from './definition.ts';

/** Every problem of a definition file, each as `file:line: what is wrong`. */
export class DefinitionError extends ProblemsError {
  override name = 'DefinitionError';
  constructor(problems: string[]) {
    super('invalid definition', problems);
  }
}

export const DEFAULT_DEFINITION = new URL('../../definitions/sample.yaml', import.meta.url).pathname;

/** Reads and validates a definition file; throws a DefinitionError listing every problem at once. */
export function loadDefinition(file: string = DEFAULT_DEFINITION): Definition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DefinitionError([`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  return parseDefinition(text, file);
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Parses a definition (YAML, with the `yaml` library) and checks its shape:
 * known keys only, the right types, identifiers that are plain SQL names,
 * every entity with one way of belonging to the user. Problems name the file
 * and line; all of them are reported at once.
 */
export function parseDefinition(text: string, file: string): Definition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const problems: string[] = [];
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const problem = (node: Node | null | undefined, where: string, what: string) => problems.push(`${file}:${lineOf(node)}: ${where}: ${what}`);
  for (const error of doc.errors) problems.push(`${file}:${error.linePos?.[0]?.line ?? 1}: ${error.message.split('\n')[0]}`);
  if (problems.length > 0) throw new DefinitionError(problems);

  /** The entries of a mapping, with unknown keys reported. */
  const entries = (node: unknown, where: string, known?: readonly string[]): [string, Node, Node][] => {
    if (!isMap(node)) {
      problem(node as Node, where, 'must be a mapping');
      return [];
    }
    const out: [string, Node, Node][] = [];
    for (const pair of (node as YAMLMap).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known && !known.includes(key)) {
        problem(pair.key as Node, where, `unknown key "${key}" (expected ${known.join(', ')})`);
        continue;
      }
      out.push([key, pair.value as Node, pair.key as Node]);
    }
    return out;
  };
  const text_ = (node: Node | undefined, where: string): string => {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    problem(node, where, 'must be a non-empty text');
    return '';
  };
  const name = (node: Node | undefined, where: string): string => {
    const value = text_(node, where);
    if (value && !IDENTIFIER.test(value)) problem(node, where, `must be a plain lower-case SQL name, got ${JSON.stringify(value)}`);
    return value;
  };
  const names = (node: Node | undefined, where: string): string[] => {
    if (!isSeq(node) || node.items.length === 0) {
      problem(node, where, 'must be a non-empty list of column names');
      return [];
    }
    return node.items.map((item, i) => name(item as Node, `${where}[${i}]`));
  };

  const top = Object.fromEntries(entries(doc.contents, 'the file', ['version', 'user_table', 'entities', 'left_out', 'file_sources']).map(([k, v, key]) => [k, { v, key }]));
  if (!top.version || !isScalar(top.version.v) || top.version.v.value !== 1) problem(top.version?.v ?? doc.contents, 'version', 'must be 1');
  const userTable = top.user_table ? name(top.user_table.v, 'user_table') : (problem(doc.contents, 'user_table', 'is required'), '');
  const leftOut: Record<string, string> = {};
  for (const [table, reason] of top.left_out ? entries(top.left_out.v, 'left_out') : []) {
    if (!IDENTIFIER.test(table)) problem(reason, `left_out.${table}`, 'must be a plain lower-case SQL name');
    leftOut[table] = text_(reason, `left_out.${table} (why it is left out)`);
  }

  const fileSources: Record<string, FileSourceRule> = {};
  for (const [sourceName, body, key] of top.file_sources ? entries(top.file_sources.v, 'file_sources') : []) {
    const at = `file_sources.${sourceName}`;
    if (!IDENTIFIER.test(sourceName)) problem(key, at, 'the name must be a plain lower-case name (it names EXPORT_SOURCE_<NAME>_* settings)');
    const f = Object.fromEntries(entries(body, at, ['bucket', 'prefix', 'endpoint', 'region', 'force_path_style', 'https_hosts']));
    if (f.https_hosts) {
      if (f.bucket || f.prefix || f.endpoint || f.region || f.force_path_style) problem(key, at, 'is either a bucket or https_hosts, not both');
      const hosts = isSeq(f.https_hosts) ? f.https_hosts.items.map((h: unknown, i: number) => text_(h as Node, `${at}.https_hosts[${i}]`).toLowerCase()) : [];
      if (hosts.length === 0) problem(f.https_hosts, `${at}.https_hosts`, 'must be a non-empty list of host names');
      for (const host of hosts) if (host && !/^[a-z0-9.-]+(:\d+)?$/.test(host)) problem(f.https_hosts, `${at}.https_hosts`, `${JSON.stringify(host)} is not a host name`);
      fileSources[sourceName] = { kind: 'https', name: sourceName, line: lineOf(key), hosts };
      continue;
    }
    const source: FileSourceRule = { kind: 's3', name: sourceName, line: lineOf(key), bucket: text_(f.bucket, `${at}.bucket`), prefix: '' };
    if (f.prefix) source.prefix = isScalar(f.prefix) && typeof f.prefix.value === 'string' ? f.prefix.value : (problem(f.prefix, `${at}.prefix`, 'must be a text'), '');
    if (f.endpoint) source.endpoint = text_(f.endpoint, `${at}.endpoint`);
    if (source.endpoint && !/^https?:\/\/[^/]+/.test(source.endpoint)) problem(f.endpoint, `${at}.endpoint`, 'must be an http(s):// URL');
    if (f.region) source.region = text_(f.region, `${at}.region`);
    if (f.force_path_style) {
      if (isScalar(f.force_path_style) && typeof f.force_path_style.value === 'boolean') source.forcePathStyle = f.force_path_style.value;
      else problem(f.force_path_style, `${at}.force_path_style`, 'must be true or false');
    }
    fileSources[sourceName] = source;
  }

  const entities: EntityRule[] = [];
  if (!top.entities) problem(doc.contents, 'entities', 'is required');
  for (const [entityName, body, key] of top.entities ? entries(top.entities.v, 'entities') : []) {
    const at = `entities.${entityName}`;
    if (!IDENTIFIER.test(entityName)) problem(key, at, 'the name must be a plain lower-case name (it names the files)');
    const fields = Object.fromEntries(entries(body, at, ['table', 'description', 'owner', 'members', 'through', 'order_by', 'columns', 'files']).map(([k, v]) => [k, v]));
    const entity: EntityRule = {
      name: entityName,
      line: lineOf(key),
      table: fields.table ? name(fields.table, `${at}.table`) : entityName,
      description: text_(fields.description, `${at}.description`),
      orderBy: names(fields.order_by, `${at}.order_by`),
      columns: [],
      files: [],
    };
    if (fields.owner) {
      const owner = Object.fromEntries(entries(fields.owner, `${at}.owner`, ['column', 'columns']));
      const columns = owner.columns ? names(owner.columns, `${at}.owner.columns`) : owner.column ? [name(owner.column, `${at}.owner.column`)] : [];
      if ((owner.column === undefined) === (owner.columns === undefined)) problem(fields.owner, `${at}.owner`, 'needs either "column" or "columns"');
      entity.owner = { columns };
    }
    if (fields.members) {
      const m = Object.fromEntries(entries(fields.members, `${at}.members`, ['table', 'column', 'user_column', 'omit']));
      const omit: Record<string, string> = {};
      for (const [column, reason] of m.omit ? entries(m.omit, `${at}.members.omit`) : []) omit[column] = text_(reason, `${at}.members.omit.${column}`);
      const members: MembersRule = {
        table: name(m.table, `${at}.members.table`),
        column: name(m.column, `${at}.members.column`),
        userColumn: name(m.user_column, `${at}.members.user_column`),
        omit,
      };
      entity.members = members;
    }
    if (fields.through) {
      const t = Object.fromEntries(entries(fields.through, `${at}.through`, ['entity', 'column']));
      entity.through = { entity: name(t.entity, `${at}.through.entity`), column: name(t.column, `${at}.through.column`) };
    }
    if (!entity.owner && !entity.members && !entity.through) problem(key, at, 'says nowhere how its rows belong to the user (owner, members or through)');
    if (entity.through && (entity.owner || entity.members)) problem(key, at, '"through" cannot be combined with "owner" or "members"');

    const columns: ColumnRule[] = [];
    for (const [columnName, rule, columnKey] of fields.columns ? entries(fields.columns, `${at}.columns`) : (problem(key, `${at}.columns`, 'is required'), [])) {
      const where = `${at}.columns.${columnName}`;
      if (!IDENTIFIER.test(columnName)) problem(columnKey, where, 'must be a plain lower-case SQL name');
      const r = Object.fromEntries(entries(rule, where, ['export', 'omit', 'derived', 'not_secret']));
      const column: ColumnRule = { name: columnName, line: lineOf(columnKey) };
      if (r.export) column.export = text_(r.export, `${where}.export`);
      if (r.omit) column.omit = text_(r.omit, `${where}.omit`);
      if (r.derived) column.derived = text_(r.derived, `${where}.derived`);
      if (r.not_secret) column.notSecret = text_(r.not_secret, `${where}.not_secret`);
      if ((column.export === undefined) === (column.omit === undefined)) problem(columnKey, where, 'must be either exported (export: what it means) or omitted (omit: why)');
      if (column.derived !== undefined && column.derived !== 'relationship' && !/^members\.[a-z_][a-z0-9_]*$/.test(column.derived)) {
        problem(r.derived, `${where}.derived`, 'must be "relationship" or "members.<column>"');
      }
      if (column.derived?.startsWith('members.') && !entity.members) problem(r.derived, `${where}.derived`, 'needs "members" on the entity');
      if (column.derived && column.omit !== undefined) problem(columnKey, where, 'a derived column is exported or not listed at all');
      columns.push(column);
    }
    entity.columns = columns;

    const files: FileRule[] = [];
    for (const [pathColumn, rule, fileKey] of fields.files ? entries(fields.files, `${at}.files`) : []) {
      const where = `${at}.files.${pathColumn}`;
      if (!IDENTIFIER.test(pathColumn)) problem(fileKey, where, 'must be a plain lower-case name (it names the column that says where the file is)');
      const r = Object.fromEntries(entries(rule, where, ['source', 'key', 'url', 'key_prefix', 'url_prefix', 'name', 'content_type', 'size', 'export']));
      const file: FileRule = { name: pathColumn, line: lineOf(fileKey), source: name(r.source, `${where}.source`), export: text_(r.export, `${where}.export`) };
      if (r.key) file.key = name(r.key, `${where}.key`);
      if (r.url) file.url = name(r.url, `${where}.url`);
      if ((file.key === undefined) === (file.url === undefined)) problem(fileKey, where, 'needs either "key" (a column holding an object key) or "url" (a column holding an https URL)');
      if (r.key_prefix && !file.key) problem(r.key_prefix, `${where}.key_prefix`, 'goes with "key"; an https URL is bound with "url_prefix"');
      if (r.url_prefix && !file.url) problem(r.url_prefix, `${where}.url_prefix`, 'goes with "url"; an object key is bound with "key_prefix"');
      const prefixNode = r.key_prefix ?? r.url_prefix;
      if (prefixNode) {
        const prefixAt = `${where}.${r.key_prefix ? 'key_prefix' : 'url_prefix'}`;
        file.ownedPrefix = text_(prefixNode, prefixAt);
        for (const what of prefixTemplateProblems(file.ownedPrefix, r.url_prefix !== undefined)) problem(prefixNode, prefixAt, what);
      }
      if (r.name) file.nameColumn = name(r.name, `${where}.name`);
      if (r.content_type) file.contentTypeColumn = name(r.content_type, `${where}.content_type`);
      if (r.size) file.sizeColumn = name(r.size, `${where}.size`);
      if (columns.some((c) => c.name === pathColumn)) problem(fileKey, where, `the path column's name is already a column of ${entityName}`);
      const source = fileSources[file.source];
      if (file.source && !source) problem(r.source, `${where}.source`, `no file source named "${file.source}" (file_sources)`);
      else if (source && file.key && source.kind !== 's3') problem(r.key, `${where}.key`, `source "${file.source}" holds https URLs; use "url"`);
      else if (source && file.url && source.kind !== 'https') problem(r.url, `${where}.url`, `source "${file.source}" is a bucket; use "key"`);
      files.push(file);
    }
    entity.files = files;
    entities.push(entity);
  }
  const known = new Set(entities.map((e) => e.name));
  for (const e of entities) {
    if (e.through && !known.has(e.through.entity)) problems.push(`${file}:${e.line}: entities.${e.name}.through.entity: no entity named "${e.through.entity}"`);
  }
  if (problems.length > 0) throw new DefinitionError(problems);
  return { file, userTable, entities, fileSources, leftOut };
}

/** What is wrong with a key_prefix (or, `url`, a url_prefix) template. */
function prefixTemplateProblems(template: string, url: boolean): string[] {
  const problems: string[] = [];
  for (const [, column] of template.matchAll(PLACEHOLDER)) {
    if (!IDENTIFIER.test(column!)) problems.push(`{${column}} must name a column of the table (a plain lower-case SQL name)`);
  }
  const literal = template.replace(PLACEHOLDER, '');
  if (/[{}]/.test(literal)) problems.push('has a { or } that is not part of a {column}');
  if (/[\x00-\x1f\x7f]/.test(literal)) problems.push('holds a control character');
  if (!url && template.startsWith('/')) problems.push('must not start with "/" (object keys do not)');
  if (!template.endsWith('/')) problems.push('must end with "/", so that one owner\'s prefix never matches another\'s (avatars/1 and avatars/12)');
  if (url && !/^https:\/\/[^/{}]+\//.test(template)) problems.push('must start with https://<host>/');
  return problems;
}
