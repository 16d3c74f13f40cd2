import { kindOfType } from '../export/column-kinds.ts';
import type { Catalog } from './catalog.ts';
import { SECRET_LOOKING } from './definition.ts';
import { type ColumnDraft, type DraftEntity, type DraftPlan, draftColumn, isDraftSecret } from './draft.ts';

/*
 * A DraftPlan as a definition file. Every guess is marked with the text
 * TODO, in a comment where the value is usable as it is (a description
 * from a column's name), so that the unedited draft passes `exporter check`
 * and builds a correct archive, whose README.txt holds no TODO, while
 * `exporter check --strict` names each line a person must still read.
 */

/** A YAML scalar: JSON's double-quoted string is one (YAML 1.2 is a superset of JSON). */
const q = (text: string) => JSON.stringify(text);
const words = (name: string) => name.replace(/_+/g, ' ').trim();
/** Types with no ordering, or none the draft can count on (an extension's type, an array of one). */
const UNORDERED = new Set(['json', 'jsonb', 'xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle', 'USER-DEFINED', 'ARRAY']);
const TODO_GUESS = '  # TODO: a guess from its name; say what it means to the person';

export function draftYaml(plan: DraftPlan, catalog: Catalog): string {
  const users = catalog.tables.get(plan.userTable)!;
  const textColumn = (names: string[]) => names.find((n) => ['text', 'character varying'].includes(users.get(n)?.type ?? ''));
  const email = textColumn(['email', 'email_address', 'mail']);
  const name = textColumn(['display_name', 'full_name', 'name', 'username', 'user_name']);
  const lines = [
    `# A draft definition, written by \`exporter init --user-table ${plan.userTable}\` from the`,
    '# live database. It passes `exporter check` as it is and builds a correct',
    '# archive. Every guess is marked: `exporter check --strict` lists each such',
    '# line, and fails while any remains. Read it, decide, and delete the mark.',
    '# README: "Adopting the exporter".',
    'version: 1',
    '',
    `user_table: ${plan.userTable}`,
    email ? `user_email: ${email}` : `# user_email: TODO: no email column found in ${plan.userTable}; the "ready" email is off without one`,
    ...(name ? [`user_name: ${name}`] : []),
  ];
  const files = plan.entities.some((e) => [...catalog.tables.get(e.table)!.keys()].some((c) => draftColumn(catalog, e.table, c, undefined).as === 'file'));
  if (files) {
    lines.push(
      '',
      '# TODO: some columns below look like where files are stored. To put the files',
      '# themselves in the archive, say where they are read from and uncomment the',
      '# files: blocks (README: "The user\'s files").',
      '# file_sources:',
      '#   uploads:',
      '#     bucket: TODO',
    );
  }
  lines.push('', 'entities:');
  for (const entity of plan.entities) lines.push(...entityLines(plan, catalog, entity));
  if (plan.leftOut.size > 0) {
    lines.push('', '# Tables that reference an exported one and are not exported, with why.', 'left_out:');
    for (const [table, why] of plan.leftOut) lines.push(`  ${table}: ${q(`left out by default: ${why}`)}  # TODO: export it if it is the person's data`);
  }
  for (const table of plan.unnamed) lines.push(`# TODO: table ${q(table)} is not a plain lower-case SQL name, which a definition cannot name yet`);
  return `${lines.join('\n')}\n`;
}

function entityLines(plan: DraftPlan, catalog: Catalog, e: DraftEntity): string[] {
  const table = catalog.tables.get(e.table)!;
  const comment = catalog.tableComments.get(e.table)?.trim();
  const lines = ['', `  ${e.table}:`];
  lines.push(comment ? `    description: ${q(comment.replace(/\s+/g, ' '))}` : `    description: ${q(entityGuess(plan, e))}${TODO_GUESS}`);
  if (e.how === 'user' || e.how === 'owner') {
    const columns = e.ownerColumns;
    lines.push(columns.length === 1 ? `    owner: { column: ${columns[0]} }` : `    owner: { columns: [${columns.join(', ')}] }`);
    if (columns.length > 1) lines.push(`    # A row is the user's when they sent it or it was sent to them (${columns.join(', ')}).`);
  }
  if (e.alsoUser?.length) {
    const also = `${e.alsoUser.join(', ')} also name${e.alsoUser.length === 1 ? 's' : ''} a user`;
    const whose = e.through ? `its rows are exported through ${e.through.entity}, to the person who made them` : `a row is exported only when ${e.ownerColumns[0]} is the user`;
    lines.push(`    # TODO: ${also}; ${whose} (the side that cannot leak). Is the row for that user to see too?`);
  }
  if (e.members) {
    const m = e.members;
    lines.push(`    members: { table: ${m.table}, column: ${m.column}, user_column: ${m.userColumn}${membersOmit(catalog, e)} }`);
    lines.push(`    # TODO: every ${words(e.table)} row that ${m.table} links to the user is exported, rows other people wrote among them: is that what ${m.table} means?`);
  }
  if (e.through) lines.push(`    through: { entity: ${e.through.entity}, column: ${e.through.column} }`);
  if (e.otherPaths.length > 0) {
    lines.push(`    # TODO: also reaches exported tables by ${e.otherPaths.join(', ')}: rows the user reaches only that way are not exported; is that right?`);
  }
  const key = catalog.primaryKeys.get(e.table);
  if (key && key.length > 0) lines.push(`    order_by: [${key.join(', ')}]`);
  else {
    const orderable = [...table.entries()].filter(([, c]) => kindOfType(c.type) && !UNORDERED.has(c.type)).map(([n]) => n);
    lines.push(`    order_by: [${orderable.join(', ')}]  # TODO: no primary key; name columns that order its rows one way`);
  }
  lines.push('    columns:');
  const fileBlocks: string[] = [];
  for (const column of table.keys()) {
    const draft = draftColumn(catalog, e.table, column, roleOf(plan, e, column));
    lines.push(columnLine(column, draft));
    if (draft.as === 'file') fileBlocks.push(...fileBlock(e, column, draft));
  }
  if (e.members) lines.push(...memberColumns(catalog, e));
  return fileBlocks.length === 0 ? lines : [...lines, '    # files:', ...fileBlocks];
}

function columnLine(column: string, draft: ColumnDraft): string {
  switch (draft.as) {
    case 'export': {
      const notSecret = draft.notSecret ? `, not_secret: ${q(draft.notSecret)}` : '';
      return `      ${column}: { export: ${q(draft.description)}${notSecret} }${draft.guessed ? TODO_GUESS : ''}`;
    }
    case 'omit':
      return `      ${column}: { omit: ${q(draft.reason)} }${draft.todo ? '  # TODO: export it as text once the exporter can, or leave it out' : ''}`;
    case 'file':
      return draft.exported
        ? `      ${column}: { export: ${q(draft.description)} }  # TODO: is this the URL of a file the person uploaded? (files: below)`
        : `      ${column}: { omit: ${q(draft.description)} }  # TODO: the file itself can be in the archive (files: below)`;
  }
}

function fileBlock(e: DraftEntity, column: string, draft: Extract<ColumnDraft, { as: 'file' }>): string[] {
  const owner = e.ownerColumns[0] ?? e.through?.column ?? 'id';
  return [
    `    #   # TODO: ${column} looks like ${draft.role === 'key' ? 'the key of a stored file' : "a file's URL"}; to include the files, uncomment and complete:`,
    `    #   ${column}_file:`,
    '    #     source: uploads',
    `    #     ${draft.role}: ${column}`,
    draft.role === 'key' ? `    #     key_prefix: "TODO/{${owner}}/"` : `    #     url_prefix: "https://TODO/{${owner}}/"`,
    '    #     export: Where the file is in this archive (empty if it could not be included).',
  ];
}

/** The description a column has by its part in the plan (a key, the user, a parent), or undefined to guess from its name. */
function roleOf(plan: DraftPlan, e: DraftEntity, column: string): string | undefined {
  if (e.how === 'user' && column === plan.userKey) return 'Your user id.';
  if (e.ownerColumns.includes(column)) return e.ownerColumns.length === 1 ? `Your user id (${plan.userTable}).` : `${capital(words(column))} (a ${plan.userTable} id: you, or another person).`;
  if (e.through?.column === column) return `The row of ${e.through.entity} it belongs to.`;
  return undefined;
}

function entityGuess(plan: DraftPlan, e: DraftEntity): string {
  switch (e.how) {
    case 'user':
      return 'Your account.';
    case 'owner':
      return `Your ${words(e.table)}.`;
    case 'members':
      return `The ${words(e.table)} you are a member of.`;
    case 'through':
      return `The ${words(e.table)} of your ${words(e.through!.entity)}.`;
  }
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * The membership table's columns, other than its two keys: exported as
 * member_<name> where they can be (not secret-looking, of a kind the export
 * holds, a name the entity's table leaves free), else omitted.
 */
function memberExtras(catalog: Catalog, e: DraftEntity) {
  const m = e.members!;
  const taken = new Set(catalog.tables.get(e.table)!.keys());
  const columns = [...catalog.tables.get(m.table)!.entries()].filter(([name]) => name !== m.column && name !== m.userColumn);
  return columns.map(([name, c]) => ({
    name,
    exported: Boolean(kindOfType(c.type)) && !isDraftSecret(name, c.type) && !taken.has(`member_${name}`),
    comment: c.comment?.trim(),
  }));
}

function membersOmit(catalog: Catalog, e: DraftEntity): string {
  const omitted = memberExtras(catalog, e).filter((c) => !c.exported);
  return omitted.length === 0 ? '' : `, omit: { ${omitted.map((c) => `${c.name}: ${q('looks secret, or of a type not exported yet')}`).join(', ')} }`;
}

function memberColumns(catalog: Catalog, e: DraftEntity): string[] {
  const lines: string[] = [];
  if (e.ownerColumns.length > 0 && !catalog.tables.get(e.table)!.has('relationship')) {
    lines.push(`      relationship: { derived: relationship, export: ${q('"owner" if it is yours, "member" if you were added to it.')} }`);
  }
  for (const c of memberExtras(catalog, e).filter((x) => x.exported)) {
    const description = c.comment ? c.comment.replace(/\s+/g, ' ') : `Your membership's ${words(c.name)}.`;
    // Exported only when not secret (isDraftSecret): a name that looks it is a flag or a public key, which check wants said.
    const notSecret = SECRET_LOOKING.test(c.name) ? `, not_secret: ${q('a yes-or-no setting or a public key, not a secret')}` : '';
    lines.push(`      member_${c.name}: { derived: members.${c.name}, export: ${q(description)}${notSecret} }${c.comment ? '' : TODO_GUESS}`);
  }
  return lines;
}
