import type { YAMLMap } from 'yaml';
import { kindOfType } from '../model/column-kinds.ts';
import { UNORDERED_TYPES } from '../model/database-types.ts';
import { type Catalog, refOf } from './catalog.ts';
import type { DraftEntity, DraftPlan } from './draft-plan.ts';
import type { ValueSamples } from './draft-samples.ts';
import { columnDrafts, columnYaml, fileBlock, memberColumns, memberExtras } from './draft-yaml-columns.ts';
import { entityGuess } from './draft-yaml-descriptions.ts';
import { type Draft, j, TODO_GUESS } from './draft-yaml-document.ts';
import { eraseYaml } from './draft-yaml-erase.ts';

/** One entity of the plan under `entities`: its table, description, relation to the user, order and columns. */
export function entityYaml(
  d: Draft,
  entities: YAMLMap,
  plan: DraftPlan,
  catalog: Catalog,
  e: DraftEntity,
  samples?: ValueSamples,
  erase = true,
): void {
  const comment = e.table.comment?.trim();
  const body = d.add(entities, e.name, {}, { space: entities.items.length > 0 }) as YAMLMap;
  const ref = refOf(catalog, e.table);
  if (ref !== e.name) d.add(body, 'table', ref);
  d.add(
    body,
    'description',
    comment ? comment.replace(/\s+/g, ' ') : entityGuess(e),
    comment ? {} : { after: TODO_GUESS },
  );
  relationYaml(d, body, plan, catalog, e);
  const drafts = columnDrafts(plan, e, samples);
  const omitted = new Set(
    drafts
      .filter(([, draft]) => draft.as === 'omit' || (draft.as === 'file' && !draft.exported))
      .map(([column]) => column),
  );
  orderByYaml(d, body, e, omitted);
  if (erase) eraseYaml(d, body, e);
  const columns = d.add(body, 'columns', {}) as YAMLMap;
  const fileBlocks: string[] = [];
  for (const [column, draft] of drafts) {
    columnYaml(d, columns, column, draft);
    if (draft.as === 'file') fileBlocks.push(...fileBlock(e, column, draft));
  }
  if (e.members) memberColumns(d, columns, e);
  if (fileBlocks.length > 0) (body.items.at(-1)!.value as YAMLMap).comment = [' files:', ...fileBlocks].join('\n');
}

/** How the rows are the user's (owner, members, through), with what a person must decide about it said above it. */
function relationYaml(d: Draft, body: YAMLMap, plan: DraftPlan, catalog: Catalog, e: DraftEntity): void {
  const notes = relationNotes(plan, e);
  const before = notes.length > 0 ? { before: notes.map((n) => ` ${n}`).join('\n') } : {};
  if (e.how === 'user' || e.how === 'owner') {
    const columns = e.ownerColumns;
    const owner: Record<string, unknown> = columns.length === 1 ? { column: columns[0] } : { columns };
    if (e.ownerDeclared) owner.declared = e.ownerDeclared;
    d.add(body, 'owner', owner, { flow: true, ...before });
  }
  if (e.members) {
    const m = e.members;
    const omit = Object.fromEntries(
      memberExtras(e)
        .filter((c) => !c.exported)
        .map((c) => [c.name, 'looks secret, or of a type not exported yet']),
    );
    d.add(
      body,
      'members',
      {
        table: refOf(catalog, m.table),
        column: m.column,
        user_column: m.userColumn,
        ...(Object.keys(omit).length ? { omit } : {}),
      },
      { flow: true, ...(e.how === 'members' ? before : {}) },
    );
  }
  if (e.through) {
    const t = e.through;
    const through: Record<string, unknown> =
      t.columns.length === 1
        ? { entity: t.entity.name, column: t.columns[0] }
        : { entity: t.entity.name, columns: t.columns };
    // A detail the parent's row points at: the foreign key runs from the parent, so which of its columns is said.
    if (t.pointedAt) through.references = t.references.length === 1 ? t.references[0] : t.references;
    d.add(body, 'through', through, { flow: true, ...before });
  }
}

/** What a person must decide about how the rows are the user's, said above the line that says it. */
function relationNotes(plan: DraftPlan, e: DraftEntity): string[] {
  const notes: string[] = [];
  if (e.ownerColumns.length > 1 && e.how !== 'user')
    notes.push(`A row is the user's when they sent it or it was sent to them (${e.ownerColumns.map(j).join(', ')}).`);
  if (e.ownerDeclared)
    notes.push(
      `TODO: no foreign key says ${e.ownerColumns.map(j).join(', ')} holds a ${j(plan.userTable.name)} id: make sure it does (every value, never another person's), then say so in words in declared:.`,
    );
  if (e.alsoUser?.length) {
    const also = `${e.alsoUser.map(j).join(', ')} also name${e.alsoUser.length === 1 ? 's' : ''} a user`;
    const whose = e.through
      ? `its rows are exported through ${e.through.entity.name}, to the person who made them`
      : `a row is exported only when ${j(e.ownerColumns[0]!)} is the user`;
    notes.push(`TODO: ${also}; ${whose} (the side that cannot leak). Is the row for that user to see too?`);
  }
  if (e.members)
    notes.push(
      `TODO: every ${j(e.name)} row that ${j(e.members.table.name)} links to the user is exported, rows other people wrote among them: is that what it means?`,
    );
  if (e.otherPaths.length > 0)
    notes.push(
      `TODO: also reaches exported tables by ${e.otherPaths.join(', ')}: rows the user reaches only that way are not exported; is that right?`,
    );
  return notes;
}

/**
 * Its primary key, else its shortest unique key of columns never null in the rows exported (the
 * user's own columns are the user's id): either orders its rows one way.
 */
function orderByYaml(d: Draft, body: YAMLMap, e: DraftEntity, omitted: Set<string>): void {
  const neverNull = (column: string) =>
    e.table.columns.get(column)?.nullable === false ||
    (e.how !== 'through' && e.ownerColumns.length === 1 && e.ownerColumns[0] === column);
  const key =
    e.table.primaryKey.length > 0
      ? e.table.primaryKey
      : e.table.uniqueKeys
          .filter((k) => k.every((c) => neverNull(c) && !omitted.has(c)))
          .toSorted((a, b) => a.length - b.length)[0];
  if (key) d.add(body, 'order_by', [...key], { flow: true });
  else {
    // A guess: every column that sorts, but never one the draft omits (a credential stays out of every query's text).
    const orderable = [...e.table.columns.entries()]
      .filter(([n, c]) => kindOfType(c.type) && !UNORDERED_TYPES.has(c.type) && !omitted.has(n))
      .map(([n]) => n);
    d.add(body, 'order_by', orderable, {
      flow: true,
      after: ' TODO: no primary key; name columns that order its rows one way',
    });
  }
}
