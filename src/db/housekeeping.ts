import { sql } from 'kysely';
import type { Db } from './connect.ts';

/**
 * Runs `task` if no other worker is running it now and it has not run within
 * `intervalSeconds` (by the database's clock), then records when it ran. The
 * advisory lock is a session lock on one connection, held while the task
 * runs; the recorded time is what keeps N workers from running it N times
 * per interval one after another. Returns undefined when it was not due.
 */
export async function runIfDue<T>(
  db: Db,
  name: string,
  intervalSeconds: number,
  task: () => Promise<T>,
): Promise<T | undefined> {
  return db.connection().execute(async (conn) => {
    const key = sql`hashtextextended(${`exporter:housekeeping:${name}`}, 0)`;
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}) as locked`.execute(conn);
    if (!rows[0]!.locked) return undefined;
    try {
      const due = await conn
        .selectFrom('dataExportHousekeeping')
        .select('name')
        .where('name', '=', name)
        .where('lastRunAt', '>', sql<Date>`now() - make_interval(secs => ${intervalSeconds})`)
        .executeTakeFirst();
      if (due) return undefined;
      const result = await task();
      await conn
        .insertInto('dataExportHousekeeping')
        .values({ name, lastRunAt: sql<Date>`now()` })
        .onConflict((oc) => oc.column('name').doUpdateSet({ lastRunAt: sql<Date>`now()` }))
        .execute();
      return result;
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(conn);
    }
  });
}
