import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** Inserts rows the way the application would, with parameters (never string-built SQL). */
export async function insertUser(
  db: pg.Pool,
  fields: { email?: string; name?: string | null; passwordHash?: string; createdAt?: string } = {},
) {
  const id = randomUUID();
  await db.query(
    'insert into users (id, email, name, password_hash, created_at) values ($1, $2, $3, $4, coalesce($5::timestamptz, now()))',
    [
      id,
      fields.email ?? `${id}@example.test`,
      fields.name === undefined ? 'Test User' : fields.name,
      fields.passwordHash ?? '$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$SECRET-HASH-MUST-NOT-LEAK',
      fields.createdAt ?? null,
    ],
  );
  return id;
}

export async function insertProject(
  db: pg.Pool,
  ownerId: string,
  fields: { name?: string; description?: string | null; createdAt?: string } = {},
) {
  const id = randomUUID();
  await db.query(
    'insert into projects (id, owner_id, name, description, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)',
    [
      id,
      ownerId,
      fields.name ?? 'Project',
      fields.description === undefined ? null : fields.description,
      fields.createdAt ?? '2024-01-02T03:04:05.123456Z',
    ],
  );
  return id;
}

export async function addMember(
  db: pg.Pool,
  projectId: string,
  userId: string,
  role = 'developer',
  addedAt = '2024-02-03T04:05:06.654321Z',
) {
  await db.query('insert into project_members (project_id, user_id, role, added_at) values ($1, $2, $3, $4)', [
    projectId,
    userId,
    role,
    addedAt,
  ]);
}

export async function insertFeature(
  db: pg.Pool,
  projectId: string,
  fields: { key?: string; title?: string | null; status?: string; metadata?: string | null; createdAt?: string } = {},
) {
  const id = randomUUID();
  await db.query(
    'insert into features (id, project_id, key, title, status, metadata, created_at, updated_at) values ($1, $2, $3, $4, $5, $6::jsonb, $7, $7)',
    [
      id,
      projectId,
      fields.key ?? 'FEAT-1',
      fields.title === undefined ? 'A feature' : fields.title,
      fields.status ?? 'open',
      fields.metadata === undefined ? '{"a":1}' : fields.metadata,
      fields.createdAt ?? '2024-03-04T05:06:07.000001Z',
    ],
  );
  return id;
}

export async function insertRun(
  db: pg.Pool,
  projectId: string,
  fields: {
    featureId?: string | null;
    number?: number;
    status?: string;
    branch?: string | null;
    durationMs?: string | null;
    metadata?: string | null;
    startedAt?: string | null;
  } = {},
) {
  const id = randomUUID();
  await db.query(
    `insert into pipeline_runs (id, project_id, feature_id, number, status, trigger, branch, commit_sha, started_at, finished_at, duration_ms, metadata)
     values ($1, $2, $3, $4, $5, 'push', $6, 'abc123', $7, $7::timestamptz + interval '1 minute', $8::bigint, $9::jsonb)`,
    [
      id,
      projectId,
      fields.featureId ?? null,
      fields.number ?? 1,
      fields.status ?? 'passed',
      fields.branch === undefined ? 'main' : fields.branch,
      fields.startedAt === undefined ? '2024-04-05T06:07:08.999999Z' : fields.startedAt,
      fields.durationMs === undefined ? '60000' : fields.durationMs,
      fields.metadata === undefined ? '{"runner":"linux"}' : fields.metadata,
    ],
  );
  return id;
}

export async function insertRelease(
  db: pg.Pool,
  projectId: string,
  fields: { version?: string; notes?: string | null; createdBy?: string | null } = {},
) {
  const id = randomUUID();
  await db.query(
    `insert into releases (id, project_id, version, name, notes, released_at, created_by) values ($1, $2, $3, 'Release', $4, '2024-05-06T07:08:09.5Z', $5)`,
    [
      id,
      projectId,
      fields.version ?? '1.0.0',
      fields.notes === undefined ? 'Notes' : fields.notes,
      fields.createdBy ?? null,
    ],
  );
  return id;
}

export async function insertRequest(
  db: pg.Pool,
  userId: string,
  fields: { status?: string; requestedAt?: string } = {},
) {
  const { rows } = await db.query<{ id: string }>(
    `insert into data_export_requests (user_id, status, requested_at) values ($1, $2, coalesce($3::timestamptz, now())) returning id`,
    [userId, fields.status ?? 'pending', fields.requestedAt ?? null],
  );
  return rows[0]!.id;
}

/** What the application does when an account is deleted: its data, then the user (the request goes with it by cascade). */
export async function deleteAccount(db: pg.Pool, userId: string): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('begin');
    for (const table of ['pipeline_runs', 'features', 'releases']) {
      await client.query(`delete from ${table} where project_id in (select id from projects where owner_id = $1)`, [
        userId,
      ]);
    }
    await client.query('delete from project_members where user_id = $1', [userId]);
    await client.query('delete from projects where owner_id = $1', [userId]);
    await client.query('delete from users where id = $1', [userId]);
    await client.query('commit');
  } finally {
    client.release();
  }
}
