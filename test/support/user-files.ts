import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { TestEnv } from './harness.ts';
import { insertProject, insertRelease, insertRequest, insertUser } from './seed.ts';

/** One of a user's files: the object in the uploads bucket and the row that points at it. */
export interface Upload {
  key: string;
  body: Buffer;
  /** The type the object is stored with (S3's Content-Type). */
  storedType?: string;
  /** The row's columns. */
  name?: string | null;
  contentType?: string | null;
  size?: number | null;
  /** The key as the row holds it, not put under the owner's prefix (a key a hostile client wrote). */
  raw?: boolean;
}

/** A key of its own for a test's file. */
export const uploadKey = (name: string) => `u/${randomUUID()}/${name}`;

export async function putUpload(env: TestEnv, u: Upload): Promise<void> {
  await env.s3Client.send(
    new PutObjectCommand({
      Bucket: env.uploadsBucket,
      Key: u.key,
      Body: u.body,
      ...(u.storedType ? { ContentType: u.storedType } : {}),
    }),
  );
}

/**
 * A user with one project and one release, and the files given: the first is
 * the avatar, the rest are release assets. Each key is put where the sample
 * application keeps it (definitions/sample-files.yaml binds keys to these
 * prefixes) and `key` is updated to it, unless `raw`.
 */
export async function userWithFiles(
  env: TestEnv,
  avatar: Upload | undefined,
  assets: Upload[],
  options: { upload?: boolean } = {},
) {
  const user = await insertUser(env.admin);
  const project = await insertProject(env.admin, user);
  const release = await insertRelease(env.admin, project);
  const size = (u: Upload) => (u.size === undefined ? u.body.length : u.size);
  if (avatar && !avatar.raw) avatar.key = `avatars/${user}/${avatar.key}`;
  for (const a of assets) if (!a.raw) a.key = `releases/${release}/${a.key}`;
  if (avatar) {
    if (options.upload !== false && !avatar.raw) await putUpload(env, avatar);
    await env.admin.query(
      'insert into avatars (user_id, object_key, file_name, content_type, byte_size) values ($1, $2, $3, $4, $5)',
      [user, avatar.key, avatar.name ?? null, avatar.contentType ?? null, size(avatar)],
    );
  }
  const assetIds: string[] = [];
  for (const [i, a] of assets.entries()) {
    if (options.upload !== false && !a.raw) await putUpload(env, a);
    const id = randomUUID();
    assetIds.push(id);
    await env.admin.query(
      `insert into release_assets (id, release_id, object_key, file_name, content_type, byte_size, created_at) values ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 second')`,
      [id, release, a.key, a.name === undefined ? path.basename(a.key) : a.name, a.contentType ?? null, size(a), i],
    );
  }
  return { user, release, assetIds, request: await insertRequest(env.admin, user) };
}
