import type { ErasurePlan } from '../model/erasure.ts';
import { ResidueError } from './proof.ts';

/**
 * The ghost user is the row that what stays for others points at once its
 * person is erased (a document they sent that another person signed): it
 * must be there, or the first row moved to it fails its foreign key, or
 * where none holds it points at nothing; and it is never erased itself, for
 * a delete of it would take every such row with it (ON DELETE CASCADE), of
 * everyone erased before.
 */

/** An erasure that must never be carried out, whatever is tried again: it fails for good, as a residue does. */
export class ErasureRefusedError extends ResidueError {
  override name = 'ErasureRefusedError';
}

/** `read` binds $1 to the person's key itself; its params are $2 on. */
type Read = (text: string, params: unknown[]) => Promise<{ rows: unknown[] }>;

/** Whether the person is the plan's ghost, and whether the ghost is missing (neither, where the plan has no ghost). */
export async function ghostProblems(plan: ErasurePlan, read: Read): Promise<{ isGhost: boolean; missing: boolean }> {
  if (plan.ghostUser === undefined) return { isGhost: false, missing: false };
  const type = plan.keyType;
  const { rows } = await read(
    `select ($1)::${type} = ($2)::${type} as "isGhost",
            not exists (select 1 from ${plan.users.table} u where u.${plan.users.key} = ($2)::${type}) as missing`,
    [plan.ghostUser],
  );
  return rows[0] as { isGhost: boolean; missing: boolean };
}

/** The ghost's problems in words, for the operator: the first, or undefined. */
export function ghostProblemText(plan: ErasurePlan, found: { isGhost: boolean; missing: boolean }): string | undefined {
  if (found.isGhost)
    return `${plan.ghostUser} is the ghost user (erasure.ghost_user): what was kept for others of everyone erased points at it, and would go with it; it is never erased`;
  if (found.missing)
    return `the ghost user (erasure.ghost_user: ${plan.ghostUser}) is not a row of ${plan.users.table}: create it before any erasure`;
  return undefined;
}

/** Before anything is done for an erasure (its exports revoked, its address read): the ghost itself, or no ghost row, refused. */
export async function refuseGhostProblems(
  plan: ErasurePlan,
  query: (text: string, params: unknown[]) => Promise<{ rows: unknown[] }>,
  userId: string,
): Promise<void> {
  const found = await ghostProblems(plan, (text, params) => query(text, [userId, ...params]));
  const problem = ghostProblemText(plan, found);
  if (problem) throw found.isGhost ? new ErasureRefusedError(problem) : new Error(problem);
}
