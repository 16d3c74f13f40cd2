import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { ProblemsError } from '../errors.ts';
import {
  type ColumnRule,
  type Definition,
  type EntityRule,
  type FileRule,
  type FileSourceRule,
  type MembersRule,
  PLACEHOLDER,
  PROCESSING_FIELDS,
  type Processing,
} from '../model/definition.ts';
import { parseTableRef } from '../model/identifiers.ts';

/** Every problem of a definition file, each as `file:line: what is wrong`: one on the line, several one per line. */
export class DefinitionError extends ProblemsError {
  override name = 'DefinitionError';
  constructor(problems: string[]) {
    super('invalid definition', problems);
    if (problems.length > 1)
      this.message = `invalid definition (${problems.length} problems):\n${problems.map((p) => `  ${p}`).join('\n')}`;
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

/** A name the exporter makes and the archive's files carry (an entity, a file column, a file source): plain and lower-case. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** PostgreSQL keeps at most 63 bytes of a name. */
const MAX_NAME_BYTES = 63;

/**
 * Parses a definition (YAML, with the `yaml` library) and checks its shape:
 * known keys only, the right types, identifiers that are plain SQL names,
 * every entity with one way of belonging to the user. Problems name the file
 * and line; all of them are reported at once.
 */
export function parseDefinition(text: string, file: string): Definition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const yamlErrors = doc.errors.map(
    (error) => `${file}:${error.linePos?.[0]?.line ?? 1}: ${error.message.split('\n')[0]}`,
  );
  if (yamlErrors.length > 0) throw new DefinitionError(yamlErrors);
  const r = new YamlReader(file, lines);

  const top = Object.fromEntries(
    r
      .entries(doc.contents, 'the file', [
        'version',
        'user_table',
        'user_key',
        'user_email',
        'user_name',
        'entities',
        'left_out',
        'file_sources',
        'compliance',
        ...PROCESSING_FIELDS.map((f) => f.yaml),
      ])
      .map(([k, v, key]) => [k, { v, key }]),
  );
  if (!top.version || !isScalar(top.version.v) || top.version.v.value !== 1)
    r.problem(top.version?.v ?? doc.contents, 'version', 'must be 1');
  const userTable = top.user_table
    ? r.table(top.user_table.v, 'user_table')
    : r.missing('', doc.contents, 'user_table', 'is required');
  const userColumn = (key: 'user_key' | 'user_email' | 'user_name') =>
    top[key] ? r.column(top[key].v, key) : undefined;
  const [userKey, userEmail, userName] = [userColumn('user_key'), userColumn('user_email'), userColumn('user_name')];
  const leftOut: Record<string, string> = {};
  for (const [table, reason, key] of top.left_out ? r.entries(top.left_out.v, 'left_out') : []) {
    if (!parseTableRef(table)) r.problem(key, `left_out.${table}`, TABLE_REF_HELP);
    leftOut[table] = r.text(reason, `left_out.${table} (why it is left out)`);
  }
  const fileSources = parseFileSources(r, top.file_sources?.v);
  const processing = parseProcessing(r, 'the file', (key) => top[key]?.v);
  let compliance: 'gdpr' | undefined;
  if (top.compliance) {
    if (isScalar(top.compliance.v) && top.compliance.v.value === 'gdpr') compliance = 'gdpr';
    else r.problem(top.compliance.v, 'compliance', 'must be gdpr (or left out)');
  }
  if (!top.entities) r.problem(doc.contents, 'entities', 'is required');
  const entities = (top.entities ? r.entries(top.entities.v, 'entities') : []).map(([entityName, body, key]) =>
    parseEntity(r, entityName, body, key, fileSources),
  );
  const known = new Set(entities.map((e) => e.name));
  for (const e of entities) {
    if (e.through && !known.has(e.through.entity))
      r.problems.push(`${file}:${e.line}: entities.${e.name}.through.entity: no entity named "${e.through.entity}"`);
  }
  if (compliance === 'gdpr') {
    // Every entity says all of Art. 15(1), itself or through the file's defaults: one line per gap.
    for (const e of entities) {
      for (const f of PROCESSING_FIELDS) {
        if (e.processing[f.key] === undefined && processing[f.key] === undefined) {
          r.problems.push(
            `${file}:${e.line}: entities.${e.name}: no ${f.yaml} (compliance: gdpr, ${f.article}); give it here or at the top of the file`,
          );
        }
      }
    }
  }
  if (r.problems.length > 0) throw new DefinitionError(r.problems);
  return {
    file,
    userTable,
    userKey,
    userEmail,
    userName,
    entities,
    fileSources,
    leftOut,
    processing,
    ...(compliance ? { compliance } : {}),
  };
}

const TABLE_REF_HELP =
  'must name a table: name, or schema.name (a part holding a dot or a double quote in double quotes, "" for a quote)';

/** Any name PostgreSQL takes: 1 to 63 bytes, no NUL (line breaks and other control characters included: every output escapes them). */
function isColumnName(name: string): boolean {
  return name !== '' && Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES && !name.includes('\u0000');
}

/** Reads YAML nodes of one file, collecting every problem as `file:line: where: what`. */
class YamlReader {
  readonly problems: string[] = [];
  private readonly file: string;
  private readonly lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  lineOf(node: Node | null | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  problem(node: Node | null | undefined, where: string, what: string): void {
    this.problems.push(`${this.file}:${this.lineOf(node)}: ${where}: ${what}`);
  }

  /** A problem, and the value that stands in for what is missing (so reading goes on and every problem is found). */
  missing<T>(fallback: T, node: Node | null | undefined, where: string, what: string): T {
    this.problem(node, where, what);
    return fallback;
  }

  /** The entries of a mapping, with unknown keys reported. */
  entries(node: unknown, where: string, known?: readonly string[]): [string, Node, Node][] {
    if (!isMap(node)) {
      this.problem(node as Node, where, 'must be a mapping');
      return [];
    }
    const out: [string, Node, Node][] = [];
    for (const pair of (node as YAMLMap).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known && !known.includes(key)) {
        this.problem(pair.key as Node, where, `unknown key "${key}" (expected ${known.join(', ')})`);
        continue;
      }
      out.push([key, pair.value as Node, pair.key as Node]);
    }
    return out;
  }

  text(node: Node | undefined, where: string): string {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    this.problem(node, where, 'must be a non-empty text');
    return '';
  }

  /** A name the exporter makes (an entity, a file source): plain and lower-case, for it names files and settings. */
  name(node: Node | undefined, where: string): string {
    const value = this.text(node, where);
    if (value && !IDENTIFIER.test(value))
      this.problem(node, where, `must be a plain lower-case name, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A column of the application's, as the catalog spells it: any PostgreSQL name (quoted camelCase, spaces, Unicode). */
  column(node: Node | undefined, where: string): string {
    const value = isScalar(node) && typeof node.value === 'string' ? node.value : this.text(node, where);
    if (value !== '' && !isColumnName(value))
      this.problem(
        node,
        where,
        `is not a PostgreSQL column name (1 to ${MAX_NAME_BYTES} bytes, no NUL), got ${JSON.stringify(value)}`,
      );
    return value;
  }

  columns(node: Node | undefined, where: string): string[] {
    if (!isSeq(node) || node.items.length === 0) {
      this.problem(node, where, 'must be a non-empty list of column names');
      return [];
    }
    return node.items.map((item, i) => this.column(item as Node, `${where}[${i}]`));
  }

  /** A table of the application's: `name` or `schema.name` (identifiers.ts). */
  table(node: Node | undefined, where: string): string {
    const value = this.text(node, where);
    if (value && !parseTableRef(value)) this.problem(node, where, `${TABLE_REF_HELP}, got ${JSON.stringify(value)}`);
    return value;
  }
}

/** The Art. 15 fields present at one level (the file's top, or an entity): texts, and `recipients` a list of texts. */
function parseProcessing(r: YamlReader, at: string, field: (yaml: string) => Node | undefined): Processing {
  const processing: Processing = {};
  for (const f of PROCESSING_FIELDS) {
    const node = field(f.yaml);
    if (!node) continue;
    const where = at === 'the file' ? f.yaml : `${at}.${f.yaml}`;
    if (f.key === 'recipients') {
      if (!isSeq(node) || node.items.length === 0)
        r.problem(node, where, 'must be a non-empty list of texts (named recipients, or categories)');
      else processing.recipients = node.items.map((item, i) => r.text(item as Node, `${where}[${i}]`));
    } else {
      processing[f.key] = r.text(node, where);
    }
  }
  return processing;
}

/** file_sources: a bucket (S3 API) or https URLs on allowed hosts, each by its name. */
function parseFileSources(r: YamlReader, node: Node | undefined): Record<string, FileSourceRule> {
  const fileSources: Record<string, FileSourceRule> = {};
  for (const [sourceName, body, key] of node ? r.entries(node, 'file_sources') : []) {
    const at = `file_sources.${sourceName}`;
    if (!IDENTIFIER.test(sourceName))
      r.problem(key, at, 'the name must be a plain lower-case name (it names EXPORT_SOURCE_<NAME>_* settings)');
    const f = Object.fromEntries(
      r.entries(body, at, ['bucket', 'prefix', 'endpoint', 'region', 'force_path_style', 'https_hosts']),
    );
    if (f.https_hosts) {
      if (f.bucket || f.prefix || f.endpoint || f.region || f.force_path_style)
        r.problem(key, at, 'is either a bucket or https_hosts, not both');
      const hosts = isSeq(f.https_hosts)
        ? f.https_hosts.items.map((h: unknown, i: number) => r.text(h as Node, `${at}.https_hosts[${i}]`).toLowerCase())
        : [];
      if (hosts.length === 0) r.problem(f.https_hosts, `${at}.https_hosts`, 'must be a non-empty list of host names');
      for (const host of hosts)
        if (host && !/^[a-z0-9.-]+(:\d+)?$/.test(host))
          r.problem(f.https_hosts, `${at}.https_hosts`, `${JSON.stringify(host)} is not a host name`);
      fileSources[sourceName] = { kind: 'https', name: sourceName, line: r.lineOf(key), hosts };
      continue;
    }
    const source: FileSourceRule = {
      kind: 's3',
      name: sourceName,
      line: r.lineOf(key),
      bucket: r.text(f.bucket, `${at}.bucket`),
      prefix: '',
    };
    if (f.prefix)
      source.prefix =
        isScalar(f.prefix) && typeof f.prefix.value === 'string'
          ? f.prefix.value
          : r.missing('', f.prefix, `${at}.prefix`, 'must be a text');
    if (f.endpoint) source.endpoint = r.text(f.endpoint, `${at}.endpoint`);
    if (source.endpoint && !/^https?:\/\/[^/]+/.test(source.endpoint))
      r.problem(f.endpoint, `${at}.endpoint`, 'must be an http(s):// URL');
    if (f.region) source.region = r.text(f.region, `${at}.region`);
    if (f.force_path_style) {
      if (isScalar(f.force_path_style) && typeof f.force_path_style.value === 'boolean')
        source.forcePathStyle = f.force_path_style.value;
      else r.problem(f.force_path_style, `${at}.force_path_style`, 'must be true or false');
    }
    fileSources[sourceName] = source;
  }
  return fileSources;
}

/** One entity: its table, how its rows belong to the user, its columns and its files. */
function parseEntity(
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
  if (fields.owner) {
    const owner = Object.fromEntries(r.entries(fields.owner, `${at}.owner`, ['column', 'columns', 'declared']));
    const columns = owner.columns
      ? r.columns(owner.columns, `${at}.owner.columns`)
      : owner.column
        ? [r.column(owner.column, `${at}.owner.column`)]
        : [];
    if ((owner.column === undefined) === (owner.columns === undefined))
      r.problem(fields.owner, `${at}.owner`, 'needs either "column" or "columns"');
    entity.owner = { columns, ...declared(r, owner.declared, `${at}.owner.declared`) };
  }
  if (fields.members) {
    const m = Object.fromEntries(
      r.entries(fields.members, `${at}.members`, ['table', 'column', 'user_column', 'references', 'declared', 'omit']),
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
    entity.members = members;
  }
  if (fields.through) {
    const t = Object.fromEntries(
      r.entries(fields.through, `${at}.through`, ['entity', 'column', 'columns', 'references', 'declared']),
    );
    const columns = t.columns
      ? r.columns(t.columns, `${at}.through.columns`)
      : t.column
        ? [r.column(t.column, `${at}.through.column`)]
        : [];
    if ((t.column === undefined) === (t.columns === undefined))
      r.problem(fields.through, `${at}.through`, 'needs either "column" or "columns" (several, for a composite key)');
    const references = t.references
      ? isSeq(t.references)
        ? r.columns(t.references, `${at}.through.references`)
        : [r.column(t.references, `${at}.through.references`)]
      : undefined;
    if (references && references.length !== columns.length)
      r.problem(t.references, `${at}.through.references`, `names ${references.length} column(s) for ${columns.length}`);
    entity.through = {
      entity: r.name(t.entity, `${at}.through.entity`),
      columns,
      ...(references ? { references } : {}),
      ...declared(r, t.declared, `${at}.through.declared`),
    };
  }
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

/** The columns that point at the user's files, each becoming a path column of the export. */
function parseFiles(
  r: YamlReader,
  at: string,
  entityName: string,
  node: Node | undefined,
  columns: readonly ColumnRule[],
  fileSources: Readonly<Record<string, FileSourceRule>>,
): FileRule[] {
  const files: FileRule[] = [];
  for (const [pathColumn, rule, fileKey] of node ? r.entries(node, `${at}.files`) : []) {
    const where = `${at}.files.${pathColumn}`;
    if (!IDENTIFIER.test(pathColumn))
      r.problem(fileKey, where, 'must be a plain lower-case name (it names the column that says where the file is)');
    const f = Object.fromEntries(
      r.entries(rule, where, [
        'source',
        'key',
        'url',
        'key_prefix',
        'url_prefix',
        'owner_bound',
        'name',
        'content_type',
        'size',
        'export',
      ]),
    );
    const file: FileRule = {
      name: pathColumn,
      line: r.lineOf(fileKey),
      source: r.name(f.source, `${where}.source`),
      export: r.text(f.export, `${where}.export`),
    };
    if (f.key) file.key = r.column(f.key, `${where}.key`);
    if (f.url) file.url = r.column(f.url, `${where}.url`);
    if ((file.key === undefined) === (file.url === undefined))
      r.problem(
        fileKey,
        where,
        'needs either "key" (a column holding an object key) or "url" (a column holding an https URL)',
      );
    if (f.key_prefix && !file.key)
      r.problem(f.key_prefix, `${where}.key_prefix`, 'goes with "key"; an https URL is bound with "url_prefix"');
    if (f.url_prefix && !file.url)
      r.problem(f.url_prefix, `${where}.url_prefix`, 'goes with "url"; an object key is bound with "key_prefix"');
    const prefixNode = f.key_prefix ?? f.url_prefix;
    if (prefixNode) {
      const prefixAt = `${where}.${f.key_prefix ? 'key_prefix' : 'url_prefix'}`;
      file.ownedPrefix = r.text(prefixNode, prefixAt);
      for (const what of prefixTemplateProblems(file.ownedPrefix, f.url_prefix !== undefined))
        r.problem(prefixNode, prefixAt, what);
    }
    if (f.owner_bound) {
      file.ownerBound = r.text(f.owner_bound, `${where}.owner_bound`);
      if (prefixNode)
        r.problem(
          f.owner_bound,
          `${where}.owner_bound`,
          `says why the ${file.key ? 'keys' : 'URLs'} need no prefix, but ${f.key_prefix ? 'key_prefix' : 'url_prefix'} binds them: keep one`,
        );
      else if (file.ownerBound.trim().length < 10)
        r.problem(
          f.owner_bound,
          `${where}.owner_bound`,
          "must say, in words, why a key of this column can never name another person's file",
        );
    }
    if (f.name) file.nameColumn = r.column(f.name, `${where}.name`);
    if (f.content_type) file.contentTypeColumn = r.column(f.content_type, `${where}.content_type`);
    if (f.size) file.sizeColumn = r.column(f.size, `${where}.size`);
    if (columns.some((c) => c.name === pathColumn))
      r.problem(fileKey, where, `the path column's name is already a column of ${entityName}`);
    const source = fileSources[file.source];
    if (file.source && !source)
      r.problem(f.source, `${where}.source`, `no file source named "${file.source}" (file_sources)`);
    else if (source && file.key && source.kind !== 's3')
      r.problem(f.key, `${where}.key`, `source "${file.source}" holds https URLs; use "url"`);
    else if (source && file.url && source.kind !== 'https')
      r.problem(f.url, `${where}.url`, `source "${file.source}" is a bucket; use "key"`);
    files.push(file);
  }
  return files;
}

/** What is wrong with a key_prefix (or, `url`, a url_prefix) template. */
function prefixTemplateProblems(template: string, url: boolean): string[] {
  const problems: string[] = [];
  for (const [, column] of template.matchAll(PLACEHOLDER)) {
    if (!isColumnName(column!)) problems.push(`{${column}} must name a column of the table`);
  }
  const literal = template.replace(PLACEHOLDER, '');
  if (/[{}]/.test(literal)) problems.push('has a { or } that is not part of a {column}');
  if (/[\x00-\x1f\x7f]/.test(literal)) problems.push('holds a control character');
  if (!url && template.startsWith('/')) problems.push('must not start with "/" (object keys do not)');
  if (!template.endsWith('/'))
    problems.push('must end with "/", so that one owner\'s prefix never matches another\'s (avatars/1 and avatars/12)');
  if (url && !/^https:\/\/[^/{}]+\//.test(template)) problems.push('must start with https://<host>/');
  return problems;
}
