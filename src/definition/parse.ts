import { readFileSync } from 'node:fs';
import { isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { ProblemsError } from '../errors.ts';
import { type Definition, type EntityRule, PROCESSING_FIELDS, type Processing } from '../model/definition.ts';
import { parseTableRef } from '../model/identifiers.ts';
import { parseEntity } from './parse-entity.ts';
import { parseErasureSettings } from './parse-erase.ts';
import { parseFileSources } from './parse-files.ts';
import { parseProcessing } from './parse-processing.ts';
import { TABLE_REF_HELP, YamlReader } from './yaml-reader.ts';

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

/** A key at the top of the file: its value, and the key itself (where a problem with it is). */
type TopField = { v: Node; key: Node };

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

  const top = topFields(r, doc.contents);
  if (!top.version || !isScalar(top.version.v) || top.version.v.value !== 1)
    r.problem(top.version?.v ?? doc.contents, 'version', 'must be 1');
  const userTable = top.user_table
    ? r.table(top.user_table.v, 'user_table')
    : r.missing('', doc.contents, 'user_table', 'is required');
  const userColumn = (key: 'user_key' | 'user_email' | 'user_name') =>
    top[key] ? r.column(top[key].v, key) : undefined;
  const [userKey, userEmail, userName] = [userColumn('user_key'), userColumn('user_email'), userColumn('user_name')];
  const leftOut = parseLeftOut(r, top.left_out);
  const fileSources = parseFileSources(r, top.file_sources?.v);
  const processing = parseProcessing(r, 'the file', (key) => top[key]?.v);
  const compliance = parseCompliance(r, top.compliance);
  const erasure = top.erasure ? parseErasureSettings(r, top.erasure.v, top.erasure.key) : undefined;
  if (!top.entities) r.problem(doc.contents, 'entities', 'is required');
  const entities = (top.entities ? r.entries(top.entities.v, 'entities') : []).map(([entityName, body, key]) =>
    parseEntity(r, entityName, body, key, fileSources),
  );
  checkThroughEntities(r, file, entities);
  if (compliance === 'gdpr') checkGdprProcessing(r, file, entities, processing);
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
    ...(erasure ? { erasure } : {}),
  };
}

/** The keys at the top of the file, unknown ones reported. */
function topFields(r: YamlReader, contents: unknown): Record<string, TopField> {
  return Object.fromEntries(
    r
      .entries(contents, 'the file', [
        'version',
        'user_table',
        'user_key',
        'user_email',
        'user_name',
        'entities',
        'left_out',
        'file_sources',
        'compliance',
        'erasure',
        ...PROCESSING_FIELDS.map((f) => f.yaml),
      ])
      .map(([k, v, key]) => [k, { v, key }]),
  );
}

/** left_out: tables not exported, each with why. */
function parseLeftOut(r: YamlReader, field: TopField | undefined): Record<string, string> {
  const leftOut: Record<string, string> = {};
  for (const [table, reason, key] of field ? r.entries(field.v, 'left_out') : []) {
    if (!parseTableRef(table)) r.problem(key, `left_out.${table}`, TABLE_REF_HELP);
    leftOut[table] = r.text(reason, `left_out.${table} (why it is left out)`);
  }
  return leftOut;
}

function parseCompliance(r: YamlReader, field: TopField | undefined): 'gdpr' | undefined {
  let compliance: 'gdpr' | undefined;
  if (field) {
    if (isScalar(field.v) && field.v.value === 'gdpr') compliance = 'gdpr';
    else r.problem(field.v, 'compliance', 'must be gdpr (or left out)');
  }
  return compliance;
}

/** Every `through` names an entity of the file. */
function checkThroughEntities(r: YamlReader, file: string, entities: readonly EntityRule[]): void {
  const known = new Set(entities.map((e) => e.name));
  for (const e of entities) {
    if (e.through && !known.has(e.through.entity))
      r.problems.push(`${file}:${e.line}: entities.${e.name}.through.entity: no entity named "${e.through.entity}"`);
  }
}

function checkGdprProcessing(
  r: YamlReader,
  file: string,
  entities: readonly EntityRule[],
  processing: Processing,
): void {
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
