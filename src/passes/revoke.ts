import type { RunDeps } from '../building/types.ts';
import { type Actor, asActor } from '../db/audit.ts';
import { lockRequests } from '../db/lifecycle.ts';
import { retireLocked } from './retire.ts';

export interface RevokeSummary {
  revoked: string[];
  notFound: string[];
  errors: number;
}

/**
 * "Delete my export now": the archive is deleted at once and the request
 * ends failed with error 'revoked', whatever its status. A worker building it
 * loses its claim, so its fenced final update fails and it deletes its own
 * upload: nothing it writes outlives the revocation.
 */
export async function revokeRequests(deps: RunDeps, ids: readonly string[], actor: Actor): Promise<RevokeSummary> {
  return asActor(deps.db, actor, async (tx) => {
    const rows = await lockRequests(tx, ids);
    const result = await retireLocked(tx, deps.storage, deps.log, rows, 'revoked');
    const found = new Set(rows.map((r) => r.id));
    return {
      revoked: result.retired.map((r) => r.id),
      notFound: ids.filter((id) => !found.has(id)),
      errors: result.errors,
    };
  });
}
