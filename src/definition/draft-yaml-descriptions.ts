import type { DraftEntity, DraftPlan } from './draft-plan.ts';

/** A name as lower-case words (`displayName`, `display_name`: display name). */
export const words = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_\s]+/g, ' ')
    .trim()
    .toLowerCase();
const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The description a column has by its part in the plan (a key, the user, a parent), or undefined to guess from its name. */
export function roleOf(plan: DraftPlan, e: DraftEntity, column: string): string | undefined {
  if (e.how === 'user' && column === plan.userKey) return 'Your user id.';
  if (e.ownerColumns.includes(column))
    return e.ownerColumns.length === 1
      ? `Your user id (${plan.userTable.name}).`
      : `${capital(words(column))} (a ${plan.userTable.name} id: you, or another person).`;
  if (e.through?.columns.includes(column))
    return e.through.pointedAt
      ? `Its id (${e.through.entity.name}.${e.through.references.join(', ')} points at it).`
      : `The row of ${e.through.entity.name} it belongs to.`;
  return undefined;
}

/** The description an entity has by how its rows are the user's, where its table has no comment. */
export function entityGuess(e: DraftEntity): string {
  switch (e.how) {
    case 'user':
      return 'Your account.';
    case 'owner':
      return `Your ${words(e.table.name)}.`;
    case 'members':
      return `The ${words(e.table.name)} you are a member of.`;
    case 'through':
      return `The ${words(e.table.name)} of your ${words(e.through!.entity.name)}.`;
  }
}
