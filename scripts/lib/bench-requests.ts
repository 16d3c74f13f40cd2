import type pg from 'pg';
import { seedUser } from './sample-data.ts';

/** The light user: a few dozen rows (39 with the user's own). */
export const LIGHT_USER = { projects: 1, features: 5, runs: 30, releases: 2 };

/** `count` light users, seeded one after the other; their ids. */
export async function seedLightUsers(db: pg.Client, count: number): Promise<string[]> {
  const users: string[] = [];
  for (let i = 0; i < count; i++) users.push(await seedUser(db, LIGHT_USER));
  return users;
}

/** Between scenarios, the last one's requests go: a truncate, which the table refuses (sql/000010) but to a superuser's session with triggers off. */
export async function emptyRequests(db: pg.Client) {
  await db.query(
    'set session_replication_role = replica; truncate data_export_requests; set session_replication_role = origin',
  );
}

export async function requeueAll(db: pg.Client) {
  await db.query(
    `update data_export_requests set status = 'pending', attempts = 0, claim_id = null, claim_expires_at = null, not_before = null`,
  );
}

export async function readyCount(db: pg.Client): Promise<number> {
  return (await db.query(`select count(*)::int as n from data_export_requests where status = 'ready'`)).rows[0].n;
}

export async function insertRequest(db: pg.Client, userId: string): Promise<string> {
  return (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [userId])).rows[0].id;
}
