import type { YAMLMap } from 'yaml';
import { TEXT_TYPES } from '../model/database-types.ts';
import { type Catalog, type CatalogTable, refOf } from './catalog.ts';
import { checkErasure } from './check-erase.ts';
import { draftColumn } from './draft-columns.ts';
import type { DraftPlan } from './draft-plan.ts';
import type { ValueSamples } from './draft-samples.ts';
import { Draft, j } from './draft-yaml-document.ts';
import { entityYaml } from './draft-yaml-entity.ts';
import { noEraseRulesComment } from './draft-yaml-erase.ts';
import { DefinitionError, parseDefinition } from './parse.ts';

/*
 * A DraftPlan as a definition file, written through the YAML library: every
 * name of the database (a column called `a: b`, one with a line break) is
 * a key or a value the library quotes, never text pasted into a line; in a
 * comment a name is written as a JSON string. Every guess is marked with the
 * text TODO, in a comment where the value is usable as it is (a description
 * from a column's name), so that the unedited draft builds a correct archive,
 * whose README.txt holds no TODO, while `exporter check --strict` names each
 * line a person must still read.
 */

export function draftYaml(plan: DraftPlan, catalog: Catalog, samples?: ValueSamples, invocation = ''): string {
  const proposed = writeDraft(plan, catalog, samples, invocation);
  const problems = eraseProblems(proposed, plan, catalog);
  return problems.length === 0 ? proposed : writeDraft(plan, catalog, samples, invocation, problems);
}

/** What check would say of the erase rules the draft proposes (check-erase.ts): they go in only where none. */
function eraseProblems(text: string, plan: DraftPlan, catalog: Catalog): string[] {
  try {
    return checkErasure(parseDefinition(text, 'the draft'), catalog, plan.userTable, plan.userKey, () => '');
  } catch (error) {
    if (error instanceof DefinitionError) return [error.message];
    throw error;
  }
}

function writeDraft(
  plan: DraftPlan,
  catalog: Catalog,
  samples: ValueSamples | undefined,
  invocation: string,
  eraseProblems?: readonly string[],
): string {
  const d = new Draft();
  const users = plan.userTable;
  const { email, name } = userTextColumns(users);
  d.root.commentBefore = [
    ` A draft definition, written by \`exporter init${invocation}\` from the`,
    ' live database. Every guess is marked: `exporter check --strict` lists each such',
    ' line, and fails while any remains. Read it, decide, and delete the mark.',
    ' docs/adopting.md.',
  ].join('\n');
  d.add(d.root, 'version', 1);
  d.add(d.root, 'user_table', refOf(catalog, users), { space: true });
  if (!(users.primaryKey.length === 1 && users.primaryKey[0] === plan.userKey)) d.add(d.root, 'user_key', plan.userKey);
  if (email) d.add(d.root, 'user_email', email);
  if (name) d.add(d.root, 'user_name', name);
  const before = [
    ...processingComment(plan, email, samples),
    ...(eraseProblems ? [noEraseRulesComment(eraseProblems)] : []),
  ].join('\n');
  const entities = d.add(d.root, 'entities', {}, { before, space: true }) as YAMLMap;
  for (const e of plan.entities) entityYaml(d, entities, plan, catalog, e, samples, !eraseProblems);
  if (plan.leftOut.size > 0) leftOutYaml(d, plan, catalog);
  if (plan.unplaced.length > 0) {
    const lines = [
      ' Tables the draft could not place. Each has a column that looks like it names a',
      ' user or a row exported above, but no foreign key says so. Declare the relation',
      ' (owner: { column: …, declared: "why" }, or through: { entity: …, column: …, declared: "why" }),',
      ' or list the table under left_out with why. docs/adopting.md: "What init cannot see".',
      ...plan.unplaced.map((u) => ` TODO: ${j(refOf(catalog, u.table))}: ${u.hints.join('; ')}`),
    ];
    (d.root.items.at(-1)!.value as YAMLMap).comment = lines.join('\n');
  }
  return d.text();
}

/** The user table's text columns the "ready" email is addressed with, by their usual names. */
function userTextColumns(users: CatalogTable): { email?: string; name?: string } {
  const textColumn = (names: string[]) => names.find((n) => TEXT_TYPES.has(users.columns.get(n)?.type ?? ''));
  const email = textColumn(['email', 'email_address', 'mail', 'emailAddress']);
  const name = textColumn([
    'display_name',
    'full_name',
    'name',
    'username',
    'user_name',
    'displayName',
    'fullName',
    'displayname',
  ]);
  return { email, name };
}

/** The comment above `entities`: the Art. 15 fields to write, commented out, and where files may be read from. */
function processingComment(plan: DraftPlan, email: string | undefined, samples?: ValueSamples): string[] {
  const users = plan.userTable;
  const processing = [
    ' What the person must be told besides their data (GDPR Art. 15(1)); README.txt,',
    ' manifest.json and index.html carry it. Uncomment and write each for the person;',
    ' any of them may be given per entity too. `compliance: gdpr` makes `exporter check`',
    ' fail on every entity that lacks one. docs/compliance.md.',
    ` ${email ? '' : `TODO: no email column found in ${j(users.name)}; the "ready" email is off without user_email.\n `}TODO: say how this data is used, then uncomment:`,
    ' compliance: gdpr',
    ' purposes: "why you process this data"',
    ' legal_basis: "contract (Art. 6(1)(b)), consent, legal obligation, legitimate interests, …"',
    ' recipients: ["who receives it: named processors, or categories"]',
    ' retention: "how long you keep it, or the criteria"',
    ' source: "from you, generated by the service, or received from whom"',
    ' automated_decisions: "none, or what is decided automatically and how"',
    ' transfers: "none outside the EEA, or where and under which safeguard"',
  ];
  const hasFiles = plan.entities.some((e) =>
    [...e.table.columns.keys()].some((c) => draftColumn(e.table, c, undefined, samples).as === 'file'),
  );
  if (hasFiles) {
    processing.push(
      '',
      ' TODO: some columns below look like where files are stored. To put the files',
      ' themselves in the archive, say where they are read from and uncomment the',
      ' files: blocks (docs/files.md).',
      ' file_sources:',
      '   uploads:',
      '     bucket: TODO',
    );
  }
  return processing;
}

/** The tables left out by default, each with why and a TODO. */
function leftOutYaml(d: Draft, plan: DraftPlan, catalog: Catalog): void {
  const leftOut = d.add(
    d.root,
    'left_out',
    {},
    { before: ' Tables that reference an exported one and are not exported, with why.', space: true },
  ) as YAMLMap;
  for (const { table, why } of plan.leftOut.values())
    d.add(leftOut, refOf(catalog, table), `left out by default: ${why}`, {
      after: " TODO: export it if it is the person's data",
    });
}
