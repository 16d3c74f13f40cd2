import { isScalar, isSeq, type Node } from 'yaml';
import { type ColumnRule, type FileRule, type FileSourceRule, PLACEHOLDER } from '../model/definition.ts';
import { IDENTIFIER, isColumnName, type YamlReader } from './yaml-reader.ts';

/** file_sources: a bucket (S3 API) or https URLs on allowed hosts, each by its name. */
export function parseFileSources(r: YamlReader, node: Node | undefined): Record<string, FileSourceRule> {
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

/** The keys of one file rule, each with its node. */
type FileFields = Partial<Record<string, Node>>;

/** The columns that point at the user's files, each becoming a path column of the export. */
export function parseFiles(
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
    const f: FileFields = Object.fromEntries(
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
    parseOwnerBinding(r, where, f, file);
    if (f.name) file.nameColumn = r.column(f.name, `${where}.name`);
    if (f.content_type) file.contentTypeColumn = r.column(f.content_type, `${where}.content_type`);
    if (f.size) file.sizeColumn = r.column(f.size, `${where}.size`);
    if (columns.some((c) => c.name === pathColumn))
      r.problem(fileKey, where, `the path column's name is already a column of ${entityName}`);
    checkFileSource(r, where, f, file, fileSources);
    files.push(file);
  }
  return files;
}

/** How a file rule binds its keys or URLs to the row's owner: key_prefix or url_prefix, else owner_bound saying why none is needed. */
function parseOwnerBinding(r: YamlReader, where: string, f: FileFields, file: FileRule): void {
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
}

/** The file rule's source exists and holds what the rule reads: object keys from a bucket, URLs from https hosts. */
function checkFileSource(
  r: YamlReader,
  where: string,
  f: FileFields,
  file: FileRule,
  fileSources: Readonly<Record<string, FileSourceRule>>,
): void {
  const source = fileSources[file.source];
  if (file.source && !source)
    r.problem(f.source, `${where}.source`, `no file source named "${file.source}" (file_sources)`);
  else if (source && file.key && source.kind !== 's3')
    r.problem(f.key, `${where}.key`, `source "${file.source}" holds https URLs; use "url"`);
  else if (source && file.url && source.kind !== 'https')
    r.problem(f.url, `${where}.url`, `source "${file.source}" is a bucket; use "key"`);
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
