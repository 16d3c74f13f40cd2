import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface UserShape {
  projects: number;
  features: number;
  runs: number;
  releases: number;
}

/**
 * Creates one user and their data with set-based SQL (generate_series), so a
 * user with millions of pipeline runs takes seconds to make. Values include
 * what a real export meets: NULLs, jsonb, big numbers, non-ASCII text and
 * text that a spreadsheet would take for a formula.
 */
export async function seedUser(db: pg.Pool | pg.Client, shape: UserShape, email = `${randomUUID()}@example.test`): Promise<string> {
  const userId = randomUUID();
  await db.query(`insert into users (id, email, name, password_hash) values ($1, $2, 'Zoë Example 🎉', 'argon2id$never-exported')`, [userId, email]);
  await db.query(
    `insert into projects (id, owner_id, name, description, created_at, updated_at)
     select gen_random_uuid(), $1, 'Project ' || g, case when g % 3 = 0 then null else 'About project ' || g || ', with "quotes"' end,
            now() - g * interval '1 day', now()
     from generate_series(1, $2::int) g`,
    [userId, shape.projects],
  );
  const perProject = (n: number) => Math.max(1, Math.ceil(n / shape.projects));
  await db.query(
    `insert into features (id, project_id, key, title, status, metadata, created_at, updated_at)
     select gen_random_uuid(), p.id, 'FEAT-' || g, case when g % 50 = 0 then '=SUM(A1:A9)' else 'Feature ' || g end,
            (array['open','done','dropped'])[1 + g % 3], jsonb_build_object('points', g % 13, 'labels', jsonb_build_array('a', 'b')),
            now() - g * interval '1 minute', now()
     from (select id from projects where owner_id = $1) p, generate_series(1, $2::int) g
     limit $3`,
    [userId, perProject(shape.features), shape.features],
  );
  await db.query(
    `insert into pipeline_runs (id, project_id, feature_id, number, status, trigger, branch, commit_sha, started_at, finished_at, duration_ms, metadata)
     select gen_random_uuid(), p.id, null, g, (array['passed','failed','cancelled'])[1 + g % 3], 'push', 'feature/' || (g % 97),
            md5(g::text), now() - g * interval '1 second', now() - g * interval '1 second' + interval '90 seconds', 90000 + g % 1000,
            jsonb_build_object('runner', 'linux-' || (g % 4), 'cache_hit', g % 2 = 0, 'attempt', 1)
     from (select id from projects where owner_id = $1) p, generate_series(1, $2::int) g
     limit $3`,
    [userId, perProject(shape.runs), shape.runs],
  );
  await db.query(
    `insert into releases (id, project_id, version, name, notes, released_at, created_by)
     select gen_random_uuid(), p.id, '1.' || g || '.0', 'Release ' || g, 'Fixes: ' || repeat('bug, ', 1 + g % 5), now() - g * interval '1 hour', $1
     from (select id from projects where owner_id = $1) p, generate_series(1, $2::int) g
     limit $3`,
    [userId, perProject(shape.releases), shape.releases],
  );
  return userId;
}

export async function createPendingRequest(db: pg.Pool | pg.Client, userId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(`insert into data_export_requests (user_id) values ($1) returning id`, [userId]);
  return rows[0]!.id;
}
