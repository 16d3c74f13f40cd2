import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * The application, as `npm run bench:erasure` plays it beside an erasure:
 * several connections each writing other people's rows, one statement at a
 * time in autocommit as an application's requests do, paced to a total rate,
 * each write timed from its send to its answer. It inserts runs, features,
 * releases and release assets into other people's projects (and the project
 * the erased person shares with another, whose rows stay), and updates
 * existing runs, features and projects. Every row it inserts or updates is
 * remembered by key, so that the bench can count them afterwards.
 */

/** Where the application writes: every key belongs to someone other than the person being erased. */
export interface WriteTargets {
  /** Projects and their owners: new rows go there, and `updated_at` is touched. */
  projects: { id: string; owner: string }[];
  /** Features with their project: new runs point at them, and they are updated. */
  features: { id: string; project: string }[];
  /** Runs the application updates. */
  runs: string[];
  /** Releases new assets are attached to. */
  releases: string[];
}

/** One write: when it was sent (performance.now()), how long it took, what it was. */
export interface WriteSample {
  at: number;
  ms: number;
  kind: string;
}

/** The keys the application wrote, by table: inserted, and updated (rows that existed before). */
export interface Written {
  inserted: Record<string, string[]>;
  updated: Record<string, Set<string>>;
}

export interface Application {
  samples: WriteSample[];
  errors: string[];
  written: Written;
  stop(): Promise<void>;
}

type Write = (db: pg.Client, t: WriteTargets, w: Written) => Promise<[string, string, 'inserted' | 'updated']>;

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** What one write does, with its weight (out of 100): inserts and updates of the tables the erasure deletes from. */
const WRITES: [number, string, Write][] = [
  [30, 'insert run', insertRun],
  [20, 'update run', updateRun],
  [12, 'insert feature', insertFeature],
  [10, 'update feature', updateFeature],
  [10, 'insert release', insertRelease],
  [8, 'insert asset', insertAsset],
  [10, 'update project', updateProject],
];

async function insertRun(db: pg.Client, t: WriteTargets): Promise<[string, string, 'inserted']> {
  const id = randomUUID();
  // Half of them for a feature (a foreign key to a features row, locked FOR KEY SHARE while the erasure deletes others).
  const feature = Math.random() < 0.5 ? pick(t.features) : undefined;
  const project = feature?.project ?? pick(t.projects).id;
  await db.query(
    `insert into pipeline_runs (id, project_id, feature_id, number, status, trigger, branch, commit_sha, started_at, duration_ms, metadata)
     values ($1::uuid, $2, $3, 1, 'running', 'push', 'main', md5($1::uuid::text), now(), 0, '{"app": true}')`,
    [id, project, feature?.id ?? null],
  );
  return ['pipeline_runs', id, 'inserted'];
}

async function updateRun(db: pg.Client, t: WriteTargets, w: Written): Promise<[string, string, 'updated']> {
  const mine = w.inserted.pipeline_runs ?? [];
  const id = mine.length > 0 && Math.random() < 0.5 ? pick(mine) : pick(t.runs);
  await db.query(
    `update pipeline_runs set status = 'passed', finished_at = now(), duration_ms = duration_ms + 1 where id = $1`,
    [id],
  );
  return ['pipeline_runs', id, 'updated'];
}

async function insertFeature(db: pg.Client, t: WriteTargets): Promise<[string, string, 'inserted']> {
  const id = randomUUID();
  await db.query(
    `insert into features (id, project_id, key, title, status, metadata, created_at, updated_at)
     values ($1, $2, 'APP-1', 'Written during an erasure', 'open', '{"app": true}', now(), now())`,
    [id, pick(t.projects).id],
  );
  return ['features', id, 'inserted'];
}

async function updateFeature(db: pg.Client, t: WriteTargets): Promise<[string, string, 'updated']> {
  const { id } = pick(t.features);
  await db.query(`update features set status = 'done', updated_at = now() where id = $1`, [id]);
  return ['features', id, 'updated'];
}

async function insertRelease(db: pg.Client, t: WriteTargets): Promise<[string, string, 'inserted']> {
  const id = randomUUID();
  const project = pick(t.projects);
  // created_by: a foreign key to users, the person's own row being deleted in the same table.
  await db.query(
    `insert into releases (id, project_id, version, name, notes, released_at, created_by)
     values ($1, $2, '9.9.9', 'App release', 'Written during an erasure', now(), $3)`,
    [id, project.id, project.owner],
  );
  return ['releases', id, 'inserted'];
}

async function insertAsset(db: pg.Client, t: WriteTargets, w: Written): Promise<[string, string, 'inserted']> {
  const id = randomUUID();
  const mine = w.inserted.releases ?? [];
  const release = mine.length > 0 && Math.random() < 0.5 ? pick(mine) : pick(t.releases);
  await db.query(
    `insert into release_assets (id, release_id, object_key, file_name, content_type, byte_size)
     values ($1::uuid, $2::uuid, 'releases/' || $2::uuid || '/' || $1::uuid, 'app.bin', 'application/octet-stream', 1)`,
    [id, release],
  );
  return ['release_assets', id, 'inserted'];
}

async function updateProject(db: pg.Client, t: WriteTargets): Promise<[string, string, 'updated']> {
  const { id } = pick(t.projects);
  await db.query(`update projects set updated_at = now() where id = $1`, [id]);
  return ['projects', id, 'updated'];
}

function remember(written: Written, table: string, id: string, how: 'inserted' | 'updated') {
  if (how === 'inserted') {
    written.inserted[table] ??= [];
    written.inserted[table].push(id);
  } else {
    written.updated[table] ??= new Set();
    written.updated[table].add(id);
  }
}

function chooseWrite(): [string, Write] {
  let r = Math.random() * 100;
  for (const [weight, kind, write] of WRITES) {
    r -= weight;
    if (r < 0) return [kind, write];
  }
  const last = WRITES.at(-1)!;
  return [last[1], last[2]];
}

/** Starts `connections` writers, `rate` writes per second between them, until stop(). */
export async function startApplication(
  databaseUrl: string,
  targets: WriteTargets,
  options: { connections: number; rate: number },
): Promise<Application> {
  const app: Application & { stopped: boolean } = {
    samples: [],
    errors: [],
    written: { inserted: {}, updated: {} },
    stopped: false,
    stop: async () => {},
  };
  const clients = await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const db = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-application' });
      await db.connect();
      return db;
    }),
  );
  const intervalMs = (1000 * options.connections) / options.rate;
  const loops = clients.map((db) => writeLoop(db, targets, app, intervalMs));
  app.stop = async () => {
    app.stopped = true;
    await Promise.all(loops);
    await Promise.all(clients.map((db) => db.end()));
  };
  return app;
}

/** One connection's writes, one every `intervalMs` (never two at once on it: a slow write delays the next). */
async function writeLoop(
  db: pg.Client,
  targets: WriteTargets,
  app: Application & { stopped: boolean },
  intervalMs: number,
): Promise<void> {
  // Spread the connections' first writes over one interval.
  let next = performance.now() + Math.random() * intervalMs;
  while (!app.stopped) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    next = Math.max(next + intervalMs, performance.now());
    const [kind, write] = chooseWrite();
    const at = performance.now();
    try {
      const [table, id, how] = await write(db, targets, app.written);
      app.samples.push({ at, ms: performance.now() - at, kind });
      remember(app.written, table, id, how);
    } catch (error) {
      app.samples.push({ at, ms: performance.now() - at, kind });
      app.errors.push(`${kind}: ${(error as Error).message}`);
    }
  }
}
