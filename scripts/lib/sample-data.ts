import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { pngImage, wavTone } from './sample-media.ts';

/** The sample application with its uploads: the definition the demo, the tests and the benchmark export with. */
export const SAMPLE_FILES_DEFINITION = new URL('../../definitions/sample-files.yaml', import.meta.url).pathname;

/**
 * The sample application's tables, as its own migrations would have made
 * them before `exporter migrate` (which never creates an application table):
 * the five entities (definitions/sample-schema.sql) and their uploads
 * (definitions/sample-files.sql).
 */
export async function createSampleSchema(db: pg.Pool | pg.Client): Promise<void> {
  await db.query(readFileSync(new URL('../../definitions/sample-schema.sql', import.meta.url), 'utf8'));
  await db.query(readFileSync(new URL('../../definitions/sample-files.sql', import.meta.url), 'utf8'));
}

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
export async function seedUser(
  db: pg.Pool | pg.Client,
  shape: UserShape,
  email = `${randomUUID()}@example.test`,
): Promise<string> {
  const userId = randomUUID();
  await db.query(
    `insert into users (id, email, name, password_hash) values ($1, $2, 'Zoë Example 🎉', 'argon2id$never-exported')`,
    [userId, email],
  );
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
  const { rows } = await db.query<{ id: string }>(
    `insert into data_export_requests (user_id) values ($1) returning id`,
    [userId],
  );
  return rows[0]!.id;
}

export interface SampleUpload {
  /** The original file name (the row's file_name). */
  name: string;
  contentType: string;
  bytes: number;
  /** The content, or a stream of `bytes` bytes (a 2 GiB file is never held in memory). */
  body: Buffer | (() => Readable);
}

/**
 * Puts a user's files where the sample application keeps them (the uploads
 * bucket) and the rows that point at them: the first as the user's avatar,
 * the rest attached to the user's first release.
 */
export async function seedUploads(
  db: pg.Pool | pg.Client,
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string },
  bucket: string,
  userId: string,
  uploads: { avatar?: SampleUpload; assets?: SampleUpload[] },
): Promise<void> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  // Where the sample application keeps each kind (definitions/sample-files.yaml binds each key to its row by these prefixes).
  const put = async (upload: SampleUpload, folder: string): Promise<string> => {
    const key = `${folder}${randomUUID()}`;
    const body = Buffer.isBuffer(upload.body) ? upload.body : upload.body();
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentLength: upload.bytes,
        ContentType: upload.contentType,
      }),
    );
    return key;
  };
  try {
    if (uploads.avatar) {
      const key = await put(uploads.avatar, `avatars/${userId}/`);
      await db.query(
        'insert into avatars (user_id, object_key, file_name, content_type, byte_size) values ($1, $2, $3, $4, $5)',
        [userId, key, uploads.avatar.name, uploads.avatar.contentType, uploads.avatar.bytes],
      );
    }
    const assets = uploads.assets ?? [];
    if (assets.length === 0) return;
    const { rows } = await db.query<{ id: string }>(
      'select r.id from releases r join projects p on p.id = r.project_id where p.owner_id = $1 order by r.released_at limit 1',
      [userId],
    );
    if (!rows[0]) throw new Error('the user has no release to attach files to');
    // A few at a time: 10,000 small files upload in seconds, not minutes.
    for (let i = 0; i < assets.length; i += 16) {
      const batch = assets.slice(i, i + 16);
      const keys = await Promise.all(batch.map((asset) => put(asset, `releases/${rows[0]!.id}/`)));
      // One statement per batch: a pg.Client runs one query at a time.
      await db.query(
        `insert into release_assets (id, release_id, object_key, file_name, content_type, byte_size)
         select gen_random_uuid(), $1, k, n, t, b from unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) as u(k, n, t, b)`,
        [rows[0]!.id, keys, batch.map((a) => a.name), batch.map((a) => a.contentType), batch.map((a) => a.bytes)],
      );
    }
  } finally {
    client.destroy();
  }
}

/** What the demo shows: a picture, a screenshot and a recording that a browser can show and play, a release tarball, a PDF and release notes (random bytes stand in for the tarball's and the PDF's content). */
export function demoUploads(): { avatar: SampleUpload; assets: SampleUpload[] } {
  const text = Buffer.from('# Changelog\n\n'.concat('- Fixed a bug that nobody will miss.\n'.repeat(400)));
  const portrait = pngImage(160, 160);
  const screenshot = pngImage(320, 200, 2);
  const recording = wavTone(1.5);
  return {
    avatar: { name: 'portrait.png', contentType: 'image/png', bytes: portrait.length, body: portrait },
    assets: [
      { name: 'screenshot.png', contentType: 'image/png', bytes: screenshot.length, body: screenshot },
      { name: 'release-jingle.wav', contentType: 'audio/wav', bytes: recording.length, body: recording },
      { name: 'app-1.0.0.tar.gz', contentType: 'application/gzip', bytes: 300_000, body: randomBytes(300_000) },
      { name: 'Release notes.pdf', contentType: 'application/pdf', bytes: 64_000, body: randomBytes(64_000) },
      { name: 'CHANGELOG.md', contentType: 'text/markdown', bytes: text.length, body: text },
    ],
  };
}
