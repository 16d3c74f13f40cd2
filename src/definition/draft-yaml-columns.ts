import type { YAMLMap } from 'yaml';
import { kindOfType } from '../model/column-kinds.ts';
import { type ColumnDraft, draftColumn, isDraftSecret } from './draft-columns.ts';
import { wordsOf } from './draft-names.ts';
import type { DraftEntity, DraftPlan } from './draft-plan.ts';
import type { ValueSamples } from './draft-samples.ts';
import { ACTOR } from './draft-user-columns.ts';
import { roleOf, words } from './draft-yaml-descriptions.ts';
import { type Draft, j, TODO_GUESS } from './draft-yaml-document.ts';
import { secretLookingName } from './secrets.ts';

/** Each column of the entity's table with how it is drafted: by its part in the plan, else draftColumn's rules. */
export function columnDrafts(
  plan: DraftPlan,
  e: DraftEntity,
  samples?: ValueSamples,
): (readonly [string, ColumnDraft])[] {
  return [...e.table.columns.keys()].map(
    (column) =>
      [
        column,
        actorOmitted(e, column) ??
          bearerId(plan, e, column, draftColumn(e.table, column, roleOf(plan, e, column), samples)),
      ] as const,
  );
}

export function columnYaml(d: Draft, columns: YAMLMap, column: string, draft: ColumnDraft): void {
  switch (draft.as) {
    case 'export': {
      const value = { export: draft.description, ...(draft.notSecret ? { not_secret: draft.notSecret } : {}) };
      const todo = draft.todo
        ? ` TODO: ${draft.todo}`
        : draft.notSecretTodo
          ? ' TODO: its name looks secret and its values do not: check, and say why in not_secret'
          : draft.guessed
            ? TODO_GUESS
            : undefined;
      d.add(columns, column, value, { flow: true, ...(todo ? { after: todo } : {}) });
      return;
    }
    case 'omit':
      d.add(
        columns,
        column,
        { omit: draft.reason },
        {
          flow: true,
          ...(draft.todo ? { after: ` TODO: ${draft.todo}` } : {}),
        },
      );
      return;
    case 'file':
      d.add(columns, column, draft.exported ? { export: draft.description } : { omit: draft.description }, {
        flow: true,
        after: draft.exported
          ? ' TODO: is this the URL of a file the person uploaded? (files: below)'
          : ' TODO: the file itself can be in the archive (files: below)',
      });
  }
}

/**
 * A column of the row that names who acted on it in a role over it (its moderator, the admin
 * who resolved it): omitted, as applications often keep who from the person (Lemmy hides
 * moderators' names by default), with a TODO to export it where the application shows it.
 */
function actorOmitted(e: DraftEntity, column: string): ColumnDraft | undefined {
  if (!e.alsoUser?.includes(column) || !ACTOR.test(wordsOf(column))) return undefined;
  return {
    as: 'omit',
    reason:
      'names who acted on the row (a moderator, an admin, an editor), which applications often keep from the person',
    todo: 'export it if the application shows the person who did it',
  };
}

/**
 * A unique uuid of the person's other than their key (listmonk's subscribers.uuid): many
 * applications put one in a link that acts as the person (unsubscribe, preferences, export),
 * so whoever holds it is them. Exported, with a TODO to omit it where it is such a link's.
 */
function bearerId(plan: DraftPlan, e: DraftEntity, column: string, draft: ColumnDraft): ColumnDraft {
  const live = e.table.columns.get(column)!;
  if (e.how !== 'user' || draft.as !== 'export' || column === plan.userKey || live.type !== 'uuid') return draft;
  if (!e.table.uniqueColumns.includes(column)) return draft;
  return {
    ...draft,
    todo: 'a random id of the person other than their key: omit it if a link with it acts as them (unsubscribe, preferences, an export)',
  };
}

/** A commented-out files: block, every name in it a JSON string (a comment cannot hold a line break). */
export function fileBlock(e: DraftEntity, column: string, draft: Extract<ColumnDraft, { as: 'file' }>): string[] {
  const owner = e.ownerColumns[0] ?? e.through?.columns[0] ?? e.table.primaryKey[0] ?? 'id';
  return [
    `   TODO: ${j(column)} looks like ${draft.role === 'key' ? 'the key of a stored file' : "a file's URL"}; to include the files, uncomment and complete:`,
    `   ${j(`${column}_file`)}:`,
    '     source: uploads',
    `     ${draft.role}: ${j(column)}`,
    draft.role === 'key'
      ? `     key_prefix: ${j(`TODO/{${owner}}/`)}`
      : `     url_prefix: ${j(`https://TODO/{${owner}}/`)}`,
    '     export: Where the file is in this archive (empty if it could not be included).',
  ];
}

/**
 * The membership table's columns, other than its two keys: exported as
 * member_<name> where they can be (not secret-looking, of a kind the export
 * holds, a name the entity's table leaves free), else omitted.
 */
export function memberExtras(e: DraftEntity) {
  const m = e.members!;
  const taken = new Set(e.table.columns.keys());
  const columns = [...m.table.columns.entries()].filter(([name]) => name !== m.column && name !== m.userColumn);
  return columns.map(([name, c]) => ({
    name,
    exported: Boolean(kindOfType(c.type)) && !isDraftSecret(name, c.type) && !taken.has(`member_${name}`),
    comment: c.comment?.trim(),
  }));
}

export function memberColumns(d: Draft, columns: YAMLMap, e: DraftEntity): void {
  if (e.ownerColumns.length > 0 && !e.table.columns.has('relationship')) {
    d.add(
      columns,
      'relationship',
      { derived: 'relationship', export: '"owner" if it is yours, "member" if you were added to it.' },
      { flow: true },
    );
  }
  for (const c of memberExtras(e).filter((x) => x.exported)) {
    const description = c.comment ? c.comment.replace(/\s+/g, ' ') : `Your membership's ${words(c.name)}.`;
    // Exported only when not secret (isDraftSecret): a name that looks it is a flag or a public key, which check wants said.
    const value = {
      derived: `members.${c.name}`,
      export: description,
      ...(secretLookingName(c.name) ? { not_secret: 'a yes-or-no setting or a public key, not a secret' } : {}),
    };
    d.add(columns, `member_${c.name}`, value, { flow: true, ...(c.comment ? {} : { after: TODO_GUESS }) });
  }
}
