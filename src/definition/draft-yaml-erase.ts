import type { YAMLMap } from 'yaml';
import type { DraftEntity } from './draft-plan.ts';
import { type Draft, j } from './draft-yaml-document.ts';

/*
 * The erase rules a draft proposes (docs/erasure.md), privacy first: every
 * entity `erase: delete`. What erasure deletes is narrower than what the
 * export reads: only rows that are the person's alone; in a row they share
 * with another person, only their reference changes. Where another person's
 * data is involved the rule carries a TODO, so `check --strict` names it
 * until a person has decided.
 */

/** The entity's `erase:` line, with a TODO where another person's rows are involved. */
export function eraseYaml(d: Draft, body: YAMLMap, e: DraftEntity): void {
  const note = othersInvolved(e);
  d.add(body, 'erase', 'delete', note ? { after: ` TODO: ${note}` } : {});
}

function othersInvolved(e: DraftEntity): string | undefined {
  const decide = 'decide delete, anonymize or keep (docs/erasure.md)';
  if (e.members)
    return `other people share these rows (${j(e.members.table.name)}): only those that are the person's alone are deleted, in the others only their membership and reference go; ${decide}`;
  if (e.how === 'owner' && e.ownerColumns.length > 1)
    return `a row of two people is deleted only where every side is the person; elsewhere their side becomes null or the ghost user (erasure.ghost_user); ${decide}`;
  if (e.alsoUser?.length)
    return `${e.alsoUser.map(j).join(', ')} name${e.alsoUser.length === 1 ? 's' : ''} other users, whose rows these may be too; ${decide}`;
  return undefined;
}

/** Where the proposed rules cannot hold on this database: none is written, and one TODO says why. */
export function noEraseRulesComment(problems: readonly string[]): string {
  return [
    ' TODO: erase rules (docs/erasure.md): the draft could not propose rules that hold here',
    ` (${problems.length} problem${problems.length === 1 ? '' : 's'}, the first: ${problems[0]!.replace(/\s*\([^()]*\)$/, '')}).`,
    ' Give every entity an erase: rule (delete, anonymize or keep) before exporter erase can run.',
  ].join('\n');
}
