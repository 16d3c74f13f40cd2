import type pg from 'pg';
import { Snapshot } from '../../src/snapshot/snapshot.ts';

/** A snapshot for one test, closed after it (with an error when its transaction failed on purpose). */
export async function withSnapshot(
  pool: pg.Pool,
  test: (snapshot: Snapshot) => Promise<void>,
  closeWith?: Error,
): Promise<void> {
  const snapshot = await Snapshot.open(pool);
  try {
    await test(snapshot);
  } finally {
    await snapshot.close(closeWith);
  }
}
