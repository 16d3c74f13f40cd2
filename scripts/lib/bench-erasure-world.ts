import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { parseDocument } from 'yaml';
import type { WriteTargets, Written } from './bench-application.ts';
import { LIGHT_USER } from './bench-requests.ts';
import { type S3Info, SAMPLE_UPLOADS_BUCKET } from './embedded.ts';
import { SAMPLE_FILES_DEFINITION, seedUploads, seedUser } from './sample-data.ts';

/*
 * The data of `npm run bench:erasure`: the sample application with an erase
 * rule for every entity (delete, and the ghost user that shared rows point at
 * once the person is gone), other people with their own rows, and per run a
 * person of a million rows who shares a project with a neighbour and is a
 * member of one of the neighbour's projects.
 */

/** definitions/sample-files.yaml with `erase: delete` for every entity and the ghost user, written in `dir`. */
export function erasureDefinition(dir: string, ghost: string): string {
  const doc = parseDocument(readFileSync(SAMPLE_FILES_DEFINITION, 'utf8'));
  for (const entity of ['users', 'projects', 'features', 'pipeline_runs', 'releases', 'avatars', 'release_assets'])
    doc.setIn(['entities', entity, 'erase'], 'delete');
  doc.set('erasure', { ghost_user: ghost });
  const file = path.join(dir, 'sample-files-erase.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

/** The ghost user, `others` light users and a neighbour with `neighbourRuns` runs: everyone the erasure must leave alone. */
export async function seedOthers(db: pg.Client, others: number, neighbourRuns: number) {
  const ghost = randomUUID();
  await db.query(`insert into users (id, email, name) values ($1, 'ghost@example.test', 'Ghost')`, [ghost]);
  for (let i = 0; i < others; i++) await seedUser(db, LIGHT_USER);
  const neighbour = await seedUser(db, { projects: 10, features: 1_000, runs: neighbourRuns, releases: 1_000 });
  return { ghost, neighbour };
}

export interface Person {
  id: string;
  /** The projects that are theirs alone: all that hangs from them goes with them. */
  own: string[];
  /** Their project with the neighbour as a member: it stays, its owner becomes the ghost. */
  shared: string;
}

/**
 * The person: the bench's heavy user (`runs` pipeline runs, 5,000 features,
 * 20,000 releases over 50 projects), an avatar and release files in the
 * uploads bucket, a project shared with the neighbour (rows of both in it),
 * and a membership of one of the neighbour's projects.
 */
export async function seedPerson(db: pg.Client, s3: S3Info, runs: number, neighbour: string): Promise<Person> {
  const id = await seedUser(db, { projects: 50, features: 5_000, runs, releases: 20_000 });
  const file = (name: string) => ({ name, contentType: 'text/plain', bytes: name.length, body: Buffer.from(name) });
  await seedUploads(db, s3, SAMPLE_UPLOADS_BUCKET, id, {
    avatar: file('me.txt'),
    assets: Array.from({ length: 20 }, (_, i) => file(`asset-${i}.txt`)),
  });
  const own = (await db.query(`select id from projects where owner_id = $1`, [id])).rows.map((r) => r.id as string);
  const shared = randomUUID();
  await db.query(`insert into projects (id, owner_id, name, created_at) values ($1, $2, 'Shared', now())`, [
    shared,
    id,
  ]);
  await db.query(`insert into project_members (project_id, user_id, role, added_at) values ($1, $2, 'dev', now())`, [
    shared,
    neighbour,
  ]);
  await db.query(
    `insert into features (id, project_id, key, title, status) select gen_random_uuid(), $1, 'S-' || g, 'Shared ' || g, 'open' from generate_series(1, 20) g;`,
    [shared],
  );
  await db.query(
    `insert into pipeline_runs (id, project_id, number, status) select gen_random_uuid(), $1, g, 'passed' from generate_series(1, 200) g`,
    [shared],
  );
  // Releases in the shared project made by each of them: the person's keep their row, created_by the ghost.
  await db.query(
    `insert into releases (id, project_id, version, created_by) select gen_random_uuid(), $1, '0.' || g, case when g % 2 = 0 then $2 else $3 end::uuid from generate_series(1, 20) g`,
    [shared, id, neighbour],
  );
  const theirs = (await db.query(`select id from projects where owner_id = $1 limit 1`, [neighbour])).rows[0].id;
  await db.query(`insert into project_members (project_id, user_id, role, added_at) values ($1, $2, 'viewer', now())`, [
    theirs,
    id,
  ]);
  return { id, own, shared };
}

/** Where the application writes during the erasure: other people's projects, the shared one among them. */
export async function targetsFor(db: pg.Client, person: Person, neighbour: string): Promise<WriteTargets> {
  const notMine = `project_id <> all($1::uuid[])`;
  const projects = (
    await db.query(
      `select id, case when id = $2 then $3 else owner_id end as owner from projects where id <> all($1::uuid[])`,
      [person.own, person.shared, neighbour],
    )
  ).rows as { id: string; owner: string }[];
  const features = (
    await db.query(
      `(select id, project_id as project from features where ${notMine} order by random() limit 2000)
       union all (select id, project_id from features where project_id = $2)`,
      [person.own, person.shared],
    )
  ).rows as { id: string; project: string }[];
  const runs = (
    await db.query(
      `(select id from pipeline_runs where ${notMine} order by random() limit 5000)
       union all (select id from pipeline_runs where project_id = $2)`,
      [person.own, person.shared],
    )
  ).rows.map((r) => r.id as string);
  const releases = (
    await db.query(`select id from releases where ${notMine} order by random() limit 2000`, [person.own])
  ).rows.map((r) => r.id as string);
  return { projects, features, runs, releases };
}

/** Everyone else's rows, table by table (the person's own projects, their memberships, their avatar and user row left out). */
export async function othersCounts(db: pg.Client, person: Person): Promise<Record<string, number>> {
  const notMine = `project_id <> all($1::uuid[])`;
  const queries: Record<string, string> = {
    users: `select count(*) from users where id <> $2`,
    projects: `select count(*) from projects where id <> all($1::uuid[])`,
    project_members: `select count(*) from project_members where user_id <> $2 and ${notMine}`,
    features: `select count(*) from features where ${notMine}`,
    pipeline_runs: `select count(*) from pipeline_runs where ${notMine}`,
    releases: `select count(*) from releases where ${notMine}`,
    release_assets: `select count(*) from release_assets a join releases r on r.id = a.release_id where r.${notMine}`,
    avatars: `select count(*) from avatars where user_id <> $2`,
  };
  return await countAll(db, queries, person);
}

/** Each query's count, $1 the person's own projects and $2 the person (both always bound, each query using either). */
async function countAll(db: pg.Client, queries: Record<string, string>, person: Person) {
  const counts: Record<string, number> = {};
  for (const [name, text] of Object.entries(queries)) {
    const typed = `with p as (select $1::uuid[] as own, $2::uuid as me) ${text.replace(' where ', ' , p where ')}`;
    counts[name] = Number((await db.query(typed, [person.own, person.id])).rows[0].count);
  }
  return counts;
}

/** What is left of the person: must be nothing. Each non-zero count names what remains. */
export async function personLeft(db: pg.Client, person: Person): Promise<string[]> {
  const queries: Record<string, string> = {
    'their user row': `select count(*) from users where id = $2`,
    'projects they own': `select count(*) from projects where owner_id = $2 or id = any($1::uuid[])`,
    'their memberships': `select count(*) from project_members where user_id = $2 or project_id = any($1::uuid[])`,
    'features of their projects': `select count(*) from features where project_id = any($1::uuid[])`,
    'runs of their projects': `select count(*) from pipeline_runs where project_id = any($1::uuid[])`,
    'releases of their projects, or made by them': `select count(*) from releases where project_id = any($1::uuid[]) or created_by = $2`,
    'their avatar': `select count(*) from avatars where user_id = $2`,
  };
  return Object.entries(await countAll(db, queries, person))
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${n} ${what}`);
}

/**
 * The application's rows, counted: every row it inserted must be there, and
 * every row it updated; returns what is missing, and how many rows it wrote.
 */
export async function writtenLeft(db: pg.Client, written: Written): Promise<{ missing: string[]; rows: number }> {
  const missing: string[] = [];
  let rows = 0;
  const check = async (table: string, ids: string[], how: string) => {
    const n = Number((await db.query(`select count(*) from ${table} where id = any($1::uuid[])`, [ids])).rows[0].count);
    rows += ids.length;
    if (n !== ids.length) missing.push(`${table}: ${ids.length - n} of ${ids.length} ${how} rows missing`);
  };
  for (const [table, ids] of Object.entries(written.inserted)) await check(table, ids, 'inserted');
  for (const [table, ids] of Object.entries(written.updated)) await check(table, [...ids], 'updated');
  return { missing, rows };
}
