import { createHash, createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseDocument } from 'yaml';
import { createSampleSchema, SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { FreshDatabases } from '../support/fresh-database.ts';
import { archiveOf, createTestEnv, listKeys, runCli, spawnCli, type TestEnv, waitFor } from '../support/harness.ts';
import { addMember, insertFeature, insertProject, insertRelease, insertRun, insertUser } from '../support/seed.ts';
import { startSmtp } from '../support/smtp.ts';

/*
 * The right to erasure on the sample application (definitions/sample-files.yaml
 * with erase rules): what is the person's alone is deleted (their own project
 * and all that hangs from it, their avatar, their files in the bucket); what
 * they share stays with their reference changed (a project they own that has
 * another member: its owner becomes the ghost user; a release they made in
 * it); their memberships of others' projects go; nobody else's row or file
 * changes. A dry run changes nothing; the grace period can be cancelled; a
 * residue fails the erasure, naming it; an erasure stopped between two
 * batches resumes to the same end.
 */
let env: TestEnv;
let databases: FreshDatabases;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
  dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-erasure-'));
});
afterAll(async () => {
  await databases?.close();
  await env?.close();
});

/** The sample definition with an erase rule for every entity, and the ghost user. */
function definitionWith(ghost: string, rules: Record<string, unknown> = {}): string {
  const doc = parseDocument(readFileSync(SAMPLE_FILES_DEFINITION, 'utf8'));
  const erase: Record<string, unknown> = {
    users: 'delete',
    projects: 'delete',
    features: 'delete',
    pipeline_runs: 'delete',
    releases: 'delete',
    avatars: 'delete',
    release_assets: 'delete',
    ...rules,
  };
  for (const [entity, rule] of Object.entries(erase)) doc.setIn(['entities', entity, 'erase'], rule);
  doc.set('erasure', { ghost_user: ghost });
  const file = path.join(dir, `erase-${randomUUID().slice(0, 8)}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

/** Every row of every table of the sample, as text: what a dry run must leave exactly as it was. */
async function tablesText(db: pg.Pool): Promise<string> {
  const tables = [
    'users',
    'projects',
    'project_members',
    'features',
    'pipeline_runs',
    'releases',
    'avatars',
    'release_assets',
  ];
  const parts: string[] = [];
  for (const t of tables) parts.push(JSON.stringify((await db.query(`select * from ${t} order by 1, 2`)).rows));
  return parts.join('\n');
}

/** A world: the ghost, Ada (who will be erased) and Bob, with what each owns and shares. */
async function world(rules: Record<string, unknown> = {}) {
  const fresh = await databases.create();
  const { db } = fresh;
  await createSampleSchema(db);
  const ghost = await insertUser(db, { email: 'ghost@example.test', name: 'Ghost' });
  const ada = await insertUser(db, { email: 'ada@example.test', name: 'Ada' });
  const bob = await insertUser(db, { email: 'bob@example.test', name: 'Bob' });
  const definition = definitionWith(ghost, rules);
  const cliEnv = { ...fresh.cliEnv, EXPORT_DEFINITION: definition, EXPORT_SOURCE_UPLOADS_BUCKET: env.uploadsBucket };
  expect((await runCli(['migrate'], cliEnv)).code).toBe(0);
  // Ada's own project, hers alone: a feature, a run, a release with a file.
  const mine = await insertProject(db, ada, { name: 'ADA-ALONE' });
  const feature = await insertFeature(db, mine);
  await insertRun(db, mine, { featureId: feature });
  const release = await insertRelease(db, mine, { createdBy: ada });
  const assetKey = `releases/${release}/ada-asset.bin`;
  await put(assetKey);
  await db.query(
    `insert into release_assets (id, release_id, object_key, file_name) values ($1, $2, $3, 'ada-asset.bin')`,
    [randomUUID(), release, assetKey],
  );
  // Ada's avatar, and Bob's.
  for (const [user, name] of [
    [ada, 'ada'],
    [bob, 'bob'],
  ] as const) {
    const key = `avatars/${user}/${name}.png`;
    await put(key);
    await db.query(`insert into avatars (user_id, object_key, file_name) values ($1, $2, $3)`, [
      user,
      key,
      `${name}.png`,
    ]);
  }
  // A project Ada owns and Bob is a member of: shared. Bob made a release in it, and so did Ada.
  const shared = await insertProject(db, ada, { name: 'SHARED' });
  await addMember(db, shared, bob);
  const bobsRelease = await insertRelease(db, shared, { createdBy: bob });
  const adasReleaseInShared = await insertRelease(db, shared, { createdBy: ada });
  // Bob's project, Ada a member of it.
  const bobs = await insertProject(db, bob, { name: 'BOBS' });
  await addMember(db, bobs, ada);
  return { ...fresh, cliEnv, ghost, ada, bob, mine, shared, bobs, bobsRelease, adasReleaseInShared, assetKey };
}

/**
 * The pseudonym Node's HMAC-SHA256 gives: keyed by the person's own key, HMAC(EXPORT_ERASE_HMAC_KEY, their id)
 * (src/erasure/run-erasure.ts personKey), computed here independently of the exporter.
 */
function pseudonym(userId: string, value: string): string {
  const personal = createHmac('sha256', 'k'.repeat(32)).update(userId).digest();
  return createHmac('sha256', personal).update(value).digest('hex');
}

async function put(key: string) {
  await env.s3Client.send(new PutObjectCommand({ Bucket: env.uploadsBucket, Key: key, Body: Buffer.from(key) }));
}

/** Every key of the application's bucket. */
async function bucketKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await env.s3Client.send(
      new ListObjectsV2Command({ Bucket: env.uploadsBucket, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** A person's archive, built by the real CLI: each JSON entry's records (as sorted JSON texts), and a SHA-256 of each file it holds. */
async function archiveRecords(w: { db: pg.Pool; cliEnv: Record<string, string> }, user: string) {
  const requested = await runCli(['request', user, '--json'], w.cliEnv);
  expect(requested.code, requested.stderr).toBe(0);
  const id = JSON.parse(requested.stdout).id as string;
  const built = await runCli(['fulfill', '--request', id], w.cliEnv);
  expect(built.code, built.stderr).toBe(0);
  const archive = await archiveOf(env, id, w.db);
  const out: Record<string, unknown> = {};
  for (const [name, bytes] of archive.files) {
    // In a set order: the archive orders some entities by their owner, which the ghost's key changes.
    if (name.startsWith('json/'))
      out[name] = (JSON.parse(bytes.toString()) as unknown[]).map((r) => JSON.stringify(r)).sort();
    else if (name.startsWith('files/')) out[name] = createHash('sha256').update(bytes).digest('hex');
  }
  // Settled, so that the person may ask again (one open request each).
  await w.db.query(`update data_export_requests set status = 'failed', error = 'expired' where id = $1`, [id]);
  return out;
}

async function exists(key: string): Promise<boolean> {
  return env.s3Client
    .send(new HeadObjectCommand({ Bucket: env.uploadsBucket, Key: key }))
    .then(() => true)
    .catch(() => false);
}

describe('exporter erase', () => {
  it("a dry run says the plan and changes nothing; then the person's rows go, what they share stays with their reference changed, nobody else's row or file changes", async () => {
    const w = await world();
    const bobsBefore = await archiveRecords(w, w.bob);
    const before = await tablesText(w.db);
    const keysBefore = await bucketKeys();
    const dry = await runCli(['erase', w.ada, '--dry-run'], w.cliEnv);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('projects: delete 1 row; their side of 1 shared row; remove 1 membership');
    expect(dry.stdout).toContain('avatars: delete 1 row; delete their files (file_path)');
    expect(await tablesText(w.db)).toBe(before);
    expect(await bucketKeys()).toEqual(keysBefore);

    const asked = await runCli(['erase', w.ada, '--reason', 'asked by email, ticket 42', '--json'], w.cliEnv);
    expect(asked.code, asked.stderr).toBe(0);
    const id = JSON.parse(asked.stdout).id as string;
    const nightly = await runCli(['nightly'], w.cliEnv);
    expect(nightly.code, nightly.stderr).toBe(0);

    const erasure = (await w.db.query('select status, error, receipt from data_export_erasures where id = $1', [id]))
      .rows[0];
    expect(erasure, erasure?.error).toMatchObject({ status: 'done' });
    expect(erasure.receipt.entities.projects.counts).toMatchObject({ deleted: 1, shared: 1, memberships: 1 });
    expect(erasure.receipt.entities.avatars.counts).toMatchObject({ deleted: 1, files: 1 });
    expect(erasure.receipt.entities.release_assets.counts).toMatchObject({ deleted: 1, files: 1 });

    // Ada is gone; what was hers alone went with her; her files too.
    expect((await w.db.query('select 1 from users where id = $1', [w.ada])).rowCount).toBe(0);
    expect((await w.db.query('select 1 from projects where id = $1', [w.mine])).rowCount).toBe(0);
    expect(await exists(w.assetKey)).toBe(false);
    expect(await exists(`avatars/${w.ada}/ada.png`)).toBe(false);
    // What she shared stays, pointing at the ghost; her membership of Bob's project is gone; Bob's things are untouched.
    expect((await w.db.query('select owner_id from projects where id = $1', [w.shared])).rows[0].owner_id).toBe(
      w.ghost,
    );
    expect(
      (await w.db.query('select created_by from releases where id = $1', [w.adasReleaseInShared])).rows[0].created_by,
    ).toBe(w.ghost);
    expect(
      (await w.db.query('select created_by from releases where id = $1', [w.bobsRelease])).rows[0].created_by,
    ).toBe(w.bob);
    expect((await w.db.query('select user_id from project_members where project_id = $1', [w.bobs])).rowCount).toBe(0);
    expect((await w.db.query('select user_id from project_members where project_id = $1', [w.shared])).rows).toEqual([
      { user_id: w.bob },
    ]);
    expect(await exists(`avatars/${w.bob}/bob.png`)).toBe(true);
    expect((await w.db.query(`select name from projects where owner_id = $1`, [w.bob])).rows).toEqual([
      { name: 'BOBS' },
    ]);
    // The bucket holds what it held, less Ada's bound files; Bob's archive is what it was, Ada's references the ghost's.
    const gone = [w.assetKey, `avatars/${w.ada}/ada.png`];
    expect(await bucketKeys()).toEqual(keysBefore.filter((k) => !gone.includes(k)));
    expect(JSON.stringify(bobsBefore)).toContain(w.ada);
    const bobsExpected = Object.fromEntries(
      Object.entries(bobsBefore).map(([name, v]) => [
        name,
        Array.isArray(v) ? v.map((r: string) => r.replaceAll(w.ada, w.ghost)).sort() : v,
      ]),
    );
    expect(await archiveRecords(w, w.bob)).toEqual(bobsExpected);

    // The trail: requested, started, erased with the receipt's counts; a new export of her is refused.
    const events = (await w.db.query(`select event from data_export_events where request_id = $1 order by id`, [id]))
      .rows;
    expect(events.map((e) => e.event)).toEqual(['erasure_requested', 'erasure_started', 'erased']);
    await expect(w.db.query(`insert into data_export_requests (user_id) values ($1)`, [w.ada])).rejects.toThrow(
      /has been erased/,
    );
    // What the operator and the privacy officer see: the history with the receipt, the period's report.
    const history = await runCli(['history', id], w.cliEnv);
    expect(history.stdout).toMatch(/ erased .*"projects":\{[^\n]*"deleted":1/);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const report = JSON.parse((await runCli(['report', '--from', today, '--to', tomorrow, '--json'], w.cliEnv)).stdout);
    expect(report.erasures).toEqual({
      received: 1,
      done: 1,
      doneOnTime: 1,
      doneLate: 0,
      stillOpen: 0,
      overdue: 0,
      failed: 0,
      cancelled: 0,
    });
  });

  it('waits, untouched and pending, while the definition has no erase rules that hold; carried out once they do', async () => {
    const w = await world();
    const before = await tablesText(w.db);
    const id = JSON.parse((await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv)).stdout).id;
    const withoutRules = { ...w.cliEnv, EXPORT_DEFINITION: SAMPLE_FILES_DEFINITION };
    const waiting = await runCli(['nightly'], withoutRules);
    expect(waiting.code).toBe(1);
    expect(waiting.logs).toContainEqual(
      expect.objectContaining({
        waiting: 1,
        msg: expect.stringMatching(/^erasures wait: the definition has no erase rules/),
      }),
    );
    const dry = await runCli(['erase', w.ada, '--dry-run'], withoutRules);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(/no entity has an erase rule/);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'pending',
    );
    expect(await tablesText(w.db)).toBe(before);
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'done',
    );
  });

  it('--export-first: a last export is built, the erasure waits while its link lives, and starts once the application says it was downloaded (or the link has ended)', async () => {
    const w = await world();
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--export-first', '--json'], w.cliEnv);
    expect(asked.code, asked.stderr).toBe(0);
    const { id, exportRequestId } = JSON.parse(asked.stdout) as { id: string; exportRequestId: string };
    expect(exportRequestId).toMatch(/^[0-9a-f-]{36}$/);
    // The first night builds the export; the erasure waits on its link.
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    const last = await archiveOf(env, exportRequestId, w.db);
    expect(last.text).toContain('ADA-ALONE');
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'pending',
    );
    expect((await w.db.query('select 1 from projects where id = $1', [w.mine])).rowCount).toBe(1);
    // The application says she downloaded it: the next run erases her, and her last archive goes with her.
    expect((await w.db.query('select exporter_export_downloaded($1) as n', [exportRequestId])).rows[0].n).toBe(1);
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'done',
    );
    expect((await w.db.query('select 1 from projects where id = $1', [w.mine])).rowCount).toBe(0);
    // Revoked first (its archive deleted at once), then gone with her user row.
    expect((await w.db.query('select 1 from data_export_requests where id = $1', [exportRequestId])).rowCount).toBe(0);
    expect(await listKeys(env)).not.toContain(last.row.object_key);

    // Bob's, never downloaded: once his link has ended (expire), the erasure starts.
    const bobs = JSON.parse(
      (await runCli(['erase', w.bob, '--reason', 'asked', '--export-first', '--json'], w.cliEnv)).stdout,
    );
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [bobs.id])).rows[0].status).toBe(
      'pending',
    );
    await w.db.query(`update data_export_requests set expires_at = now() - interval '1 second' where id = $1`, [
      bobs.exportRequestId,
    ]);
    expect((await runCli(['expire'], w.cliEnv)).code).toBe(0);
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [bobs.id])).rows[0].status).toBe(
      'done',
    );
  });

  it('the person gets the receipt by email, to the address read before their row went, which is then dropped; counts only, never their data', async () => {
    const smtp = await startSmtp();
    onTestFinished(() => smtp.close());
    const w = await world();
    const id = JSON.parse((await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv)).stdout).id;
    const mail = { ...w.cliEnv, SMTP_URL: smtp.url, MAIL_FROM: 'Privacy <privacy@example.test>' };
    const nightly = await runCli(['nightly'], mail);
    expect(nightly.code, nightly.stderr).toBe(0);
    expect((await w.db.query('select 1 from users where id = $1', [w.ada])).rowCount).toBe(0);
    const receipts = smtp.received.filter((m) => m.subject === 'Your data has been erased');
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.to).toBe('ada@example.test');
    expect(receipts[0]!.text).toContain(
      'projects: 1 deleted; 1 shared with others, kept without you; 1 membership removed.',
    );
    expect(receipts[0]!.text).toContain('avatars: 1 deleted; 1 file deleted.');
    for (const data of ['ADA-ALONE', 'SHARED', w.ada, 'ada-asset.bin']) expect(receipts[0]!.text).not.toContain(data);
    const row = (
      await w.db.query('select receipt_email, receipt_sent_at from data_export_erasures where id = $1', [id])
    ).rows[0];
    expect(row.receipt_email).toBeNull();
    expect(row.receipt_sent_at).not.toBeNull();
    // Sent once: the next run sends nothing again.
    expect((await runCli(['nightly'], mail)).code).toBe(0);
    expect(smtp.received.filter((m) => m.subject === 'Your data has been erased')).toHaveLength(1);
  });

  it('cancelled in its grace period: nothing changes; extended as an export is; the ghost user is never erased', async () => {
    const w = await world();
    const before = await tablesText(w.db);
    const ghost = await runCli(['erase', w.ghost, '--reason', 'asked'], w.cliEnv);
    expect([ghost.code, ghost.stderr]).toEqual([2, expect.stringMatching(/is the ghost user \(erasure\.ghost_user\)/)]);
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--grace', '14d', '--json'], w.cliEnv);
    const id = JSON.parse(asked.stdout).id as string;
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'pending',
    );
    // Extended as an export is (Art. 12(3)): by one month, then one more, never a third; the trail says who and why.
    const dueBefore = (await w.db.query('select due_at from data_export_erasures where id = $1', [id])).rows[0].due_at;
    const extended = await runCli(
      ['extend', id, '--months', '1', '--reason', 'backups to check', '--by', 'dpo'],
      w.cliEnv,
    );
    expect(extended.code, extended.stderr).toBe(0);
    const dueAfter = (await w.db.query('select due_at, extended_months from data_export_erasures where id = $1', [id]))
      .rows[0];
    expect(dueAfter.extended_months).toBe(1);
    expect(dueAfter.due_at.getTime()).toBeGreaterThan(dueBefore.getTime() + 27 * 86_400_000);
    const again = await runCli(['extend', id, '--months', '2', '--reason', 'more'], w.cliEnv);
    expect([again.code, again.stderr]).toEqual([2, expect.stringMatching(/would pass the 2 months the law allows/)]);
    const extendedEvent = (
      await w.db.query(`select actor, detail from data_export_events where request_id = $1 and event = 'extended'`, [
        id,
      ])
    ).rows;
    expect(extendedEvent).toEqual([
      { actor: 'dpo', detail: expect.objectContaining({ months: 1, reason: 'backups to check' }) },
    ]);
    const cancelled = await runCli(['erase', '--cancel', id, '--reason', 'the person changed their mind'], w.cliEnv);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'cancelled',
    );
    expect(await tablesText(w.db)).toBe(before);
  });

  it('a residue (a trigger that puts a row back) fails the erasure for good, naming the entity', async () => {
    // The person's own row kept as a tombstone: their email a pseudonym, their name and password gone.
    const w = await world({ users: { anonymize: { email: 'hmac', name: null, password_hash: null } } });
    await w.db.query(`
      create function put_back() returns trigger language plpgsql as $$
      begin insert into project_members (project_id, user_id, role) values (old.project_id, old.user_id, old.role); return old; end $$;
      create trigger put_back after delete on project_members for each row
        when (pg_trigger_depth() = 0) execute function put_back();`);
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv);
    const id = JSON.parse(asked.stdout).id as string;
    const nightly = await runCli(['nightly'], { ...w.cliEnv, EXPORT_ERASE_HMAC_KEY: 'k'.repeat(32) });
    expect(nightly.code, nightly.stderr).toBe(1);
    const row = (await w.db.query('select status, error from data_export_erasures where id = $1', [id])).rows[0];
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/projects: 1 memberships remain/);
    // The operator is told, and so is the alert (exporter_erasures_failed reads the same), until it is answered.
    const status = JSON.parse((await runCli(['status', '--json'], w.cliEnv)).stdout);
    expect(status.erasures.unresolved).toEqual([
      expect.objectContaining({ id, userId: w.ada, error: expect.stringMatching(/memberships remain/) }),
    ]);
    // The tombstone's email is the pseudonym Node's HMAC-SHA256 gives under the same key: computed once, by PostgreSQL.
    const email = (await w.db.query('select email, name, password_hash from users where id = $1', [w.ada])).rows[0];
    expect(email).toEqual({
      email: `hmac:${pseudonym(w.ada, 'ada@example.test')}`,
      name: null,
      password_hash: null,
    });
  });

  it('stopped between two batches (a row the application holds), it resumes where it stopped and ends as an erasure run once would', async () => {
    const w = await world({ users: { anonymize: { email: 'hmac', name: null, password_hash: null } } });
    const features = [await insertFeature(w.db, w.mine), await insertFeature(w.db, w.mine)];
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv);
    const id = JSON.parse(asked.stdout).id as string;
    const settings = { ...w.cliEnv, EXPORT_ERASE_HMAC_KEY: 'k'.repeat(32), EXPORT_ERASE_BATCH: '1' };
    // The application holds the last of Ada's three features: the third batch waits 1 s, then gives up.
    const holder = await w.db.connect();
    await holder.query('begin');
    await holder.query('select 1 from features where id = $1 for update', [features[1]]);
    const first = await runCli(['nightly'], settings);
    await holder.query('rollback');
    holder.release();
    expect(first.code).toBe(1);
    const stopped = (await w.db.query('select status, error, progress from data_export_erasures where id = $1', [id]))
      .rows[0];
    expect(stopped.status, stopped.error).toBe('pending');
    expect(stopped.error).toMatch(/lock timeout/);
    expect(stopped.progress.features.counts.deleted).toBe(2);
    // Its retry time brought forward: the next run resumes at the third feature.
    await w.db.query(`update data_export_erasures set not_before = now() where id = $1`, [id]);
    const second = await runCli(['nightly'], settings);
    expect(second.code, second.stderr).toBe(0);
    const done = (await w.db.query('select status, receipt from data_export_erasures where id = $1', [id])).rows[0];
    expect(done.status).toBe('done');
    expect(done.receipt.entities.features.counts.deleted).toBe(3);
    expect(done.receipt.entities.users.counts.anonymized).toBe(1);
    const email = (await w.db.query('select email from users where id = $1', [w.ada])).rows[0].email;
    expect(email).toBe(`hmac:${pseudonym(w.ada, 'ada@example.test')}`);
  });

  it('killed (SIGKILL) in the middle of a batch, it resumes once its claim lapses and ends as an erasure run once would', async () => {
    const rules = { users: { anonymize: { email: 'hmac', name: null, password_hash: null } } };
    const settings = { EXPORT_ERASE_HMAC_KEY: 'k'.repeat(32), EXPORT_ERASE_BATCH: '1' };
    // The same world erased in one run: the end state to reach.
    const once = await world(rules);
    await insertFeature(once.db, once.mine);
    await insertFeature(once.db, once.mine);
    const onceId = JSON.parse(
      (await runCli(['erase', once.ada, '--reason', 'asked', '--json'], once.cliEnv)).stdout,
    ).id;
    expect((await runCli(['nightly'], { ...once.cliEnv, ...settings })).code).toBe(0);
    const expected = (await once.db.query('select receipt from data_export_erasures where id = $1', [onceId])).rows[0]
      .receipt.entities;

    const w = await world(rules);
    const features = [await insertFeature(w.db, w.mine), await insertFeature(w.db, w.mine)];
    const id = JSON.parse((await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv)).stdout).id;
    // The application holds one of Ada's features: the batch that reaches it waits on its lock, and is killed there.
    const holder = await w.db.connect();
    await holder.query('begin');
    await holder.query('select 1 from features where id = $1 for update', [features[1]]);
    const run = spawnCli(['nightly'], { ...w.cliEnv, ...settings });
    await waitFor(
      async () =>
        (
          await w.db.query(
            `select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from%features%'`,
          )
        ).rowCount,
      'the erasure to wait on the held row',
    );
    run.child.kill('SIGKILL');
    expect((await run.result).signal).toBe('SIGKILL');
    await holder.query('rollback');
    holder.release();
    const killed = (await w.db.query('select status, progress from data_export_erasures where id = $1', [id])).rows[0];
    expect(killed.status).toBe('processing');
    expect(killed.progress.features.counts.deleted).toBeGreaterThan(0);

    // Its claim still held, a run leaves it alone; a day later (the claim lapsed) the next run takes it over and ends it.
    expect((await runCli(['nightly'], { ...w.cliEnv, ...settings })).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'processing',
    );
    await w.db.query(`update data_export_erasures set claim_expires_at = now() - interval '1 second' where id = $1`, [
      id,
    ]);
    const resumed = await runCli(['nightly'], { ...w.cliEnv, ...settings });
    expect(resumed.code, resumed.stderr).toBe(0);
    const done = (await w.db.query('select status, attempts, receipt from data_export_erasures where id = $1', [id]))
      .rows[0];
    expect(done).toMatchObject({ status: 'done', attempts: 2 });
    expect(done.receipt.entities).toEqual(expected);
    // The pseudonym applied once: Node's HMAC of the email itself, not of an earlier pseudonym.
    expect((await w.db.query('select email from users where id = $1', [w.ada])).rows[0].email).toBe(
      `hmac:${pseudonym(w.ada, 'ada@example.test')}`,
    );
    expect(
      (await w.db.query('select count(*)::int as n from features where project_id = $1', [w.mine])).rows[0].n,
    ).toBe(0);
    expect(await exists(w.assetKey)).toBe(false);
  });

  it('two processes at once erase the person once', async () => {
    const w = await world();
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv);
    const id = JSON.parse(asked.stdout).id as string;
    const runs = await Promise.all([runCli(['nightly'], w.cliEnv), runCli(['nightly'], w.cliEnv)]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const events = (await w.db.query(`select event from data_export_events where request_id = $1 order by id`, [id]))
      .rows;
    expect(events.map((e) => e.event)).toEqual(['erasure_requested', 'erasure_started', 'erased']);
  });

  it('two work processes erase the person once, in their housekeeping', async () => {
    const w = await world();
    const id = JSON.parse((await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv)).stdout).id;
    const settings = { ...w.cliEnv, EXPORT_HOUSEKEEPING_INTERVAL: '1s', EXPORT_POLL_INTERVAL: '1s' };
    const runs = [spawnCli(['work'], settings), spawnCli(['work'], settings)];
    try {
      await waitFor(
        async () =>
          (await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status === 'done',
        'the erasure to be done',
        60_000,
      );
      // A few more housekeeping rounds of each: nothing is erased again.
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      for (const run of runs) run.child.kill('SIGTERM');
    }
    const results = await Promise.all(runs.map((r) => r.result));
    const done = results.flatMap((r) => r.logs.filter((l) => l.msg === 'erasure done'));
    expect(done).toHaveLength(1);
    const events = (await w.db.query(`select event from data_export_events where request_id = $1 order by id`, [id]))
      .rows;
    expect(events.map((e) => e.event)).toEqual(['erasure_requested', 'erasure_started', 'erased']);
  });

  it("in a versioned bucket every version of the person's file goes, the one from before versioning and the delete markers too (a delete alone hides it behind a marker); an object no row names stays", async (context) => {
    if (env.s3.kind === 's3rver') context.skip(); // s3rver has no versions; CI's storage (RADOS Gateway) does
    const bucket = `v-${randomUUID().slice(0, 18)}`;
    await env.s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
    const fresh = await databases.create();
    await createSampleSchema(fresh.db);
    const ghost = await insertUser(fresh.db, { email: 'ghost@example.test', name: 'Ghost' });
    const ada = await insertUser(fresh.db, { email: 'ada@example.test', name: 'Ada' });
    const cliEnv = { ...fresh.cliEnv, EXPORT_DEFINITION: definitionWith(ghost), EXPORT_SOURCE_UPLOADS_BUCKET: bucket };
    expect((await runCli(['migrate'], cliEnv)).code).toBe(0);
    const key = `avatars/${ada}/ada.png`;
    // The first written before the bucket kept versions: its version is "null", and it is kept as one once they are.
    await env.s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first picture' }));
    await env.s3Client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await env.s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second picture' }));
    await env.s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: `${key}.kept`, Body: 'no row names it' }));
    await fresh.db.query(`insert into avatars (user_id, object_key, file_name) values ($1, $2, 'ada.png')`, [ada, key]);
    const versions = async () => {
      const page = await env.s3Client.send(
        new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `avatars/${ada}/` }),
      );
      return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => v.Key).sort();
    };
    expect(await versions()).toEqual([key, key, `${key}.kept`]);

    const asked = await runCli(['erase', ada, '--reason', 'asked by email', '--json'], cliEnv);
    expect(asked.code, asked.stderr).toBe(0);
    const nightly = await runCli(['nightly'], cliEnv);
    expect(nightly.code, nightly.stderr).toBe(0);
    const erasure = (
      await fresh.db.query('select status, error, receipt from data_export_erasures where id = $1', [
        JSON.parse(asked.stdout).id,
      ])
    ).rows[0];
    expect(erasure, erasure?.error).toMatchObject({ status: 'done' });
    expect(erasure.receipt.entities.avatars.counts).toMatchObject({ deleted: 1, files: 1 });
    expect(await versions()).toEqual([`${key}.kept`]);
  });

  it('check names every erase rule that cannot hold, all at once', async () => {
    const fresh = await databases.create();
    await createSampleSchema(fresh.db);
    const doc = parseDocument(readFileSync(SAMPLE_FILES_DEFINITION, 'utf8'));
    const rules: Record<string, unknown> = {
      users: { keep: 'forever' },
      projects: 'delete',
      features: { keep: 'audit' },
      pipeline_runs: { anonymize: { id: null, branch: 'ghost', status: null } },
      releases: { anonymize: { version: null } },
      avatars: 'delete',
    };
    for (const [entity, rule] of Object.entries(rules)) doc.setIn(['entities', entity, 'erase'], rule);
    const file = path.join(dir, 'bad-erase.yaml');
    writeFileSync(file, doc.toString());
    const withBad = { ...fresh.cliEnv, EXPORT_DEFINITION: file };
    expect((await runCli(['migrate'], withBad)).code).toBe(0);
    const check = await runCli(['check', '--json'], withBad);
    expect(check.code).toBe(2);
    const problems = JSON.parse(check.stdout).problems as string[];
    const expected = [
      /^entities\.release_assets: no erase rule/,
      /^entities\.users: the person's own row cannot be kept whole/,
      /^pipeline_runs\.id: part of the row's key/,
      /^pipeline_runs\.branch: ghost puts a users key here, but the column's type \(text\) cannot hold one/,
      /^pipeline_runs\.branch: ghost needs erasure\.ghost_user/,
      /^releases\.version: erase\.anonymize says null, but the column is not null/,
      /^entities\.projects: erase: delete, but features \(erase: keep\) hangs from its rows/,
      /^projects\.owner_id: where a row of it stays and names the person, their reference must change, and the column cannot be null: name erasure\.ghost_user/,
    ];
    for (const pattern of expected) expect(problems, String(pattern)).toContainEqual(expect.stringMatching(pattern));
  });

  it('check advises an index where an erasure deletes rows another table looks up by a foreign key without one (the sample has none on pipeline_runs.feature_id, nor on releases.created_by); never a refusal, and gone once the index exists', async () => {
    const fresh = await databases.create();
    await createSampleSchema(fresh.db);
    const withRules = { ...fresh.cliEnv, EXPORT_DEFINITION: definitionWith('00000000-0000-0000-0000-000000000000') };
    expect((await runCli(['migrate'], withRules)).code).toBe(0);
    const advised = await runCli(['check', '--json'], withRules);
    expect(advised.code).toBe(0);
    const warnings = JSON.parse(advised.stdout).warnings as string[];
    const advice = warnings.filter((w) => w.includes('with no index to do it'));
    expect(advice.sort()).toEqual([
      expect.stringMatching(
        /^pipeline_runs\.feature_id: an erasure deletes features rows, and PostgreSQL looks up pipeline_runs by this foreign key for each one, with no index to do it .*: create index on pipeline_runs \(feature_id\)/,
      ),
      expect.stringMatching(
        /^releases\.created_by: an erasure deletes users rows, .*: create index on releases \(created_by\)/,
      ),
    ]);
    await fresh.db.query('create index on pipeline_runs (feature_id)');
    await fresh.db.query('create index on releases (created_by, project_id)');
    const after = await runCli(['check', '--json'], withRules);
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout).warnings as string[]).filter((w) => w.includes('with no index to do it'))).toEqual(
      [],
    );
  });

  it('check refuses rules that hold for the first person erased but not the second: one text or ghost in a unique column, a pseudonym cut by a short column, a rule that changes a view', async () => {
    const fresh = await databases.create();
    await createSampleSchema(fresh.db);
    await fresh.db.query(`alter table releases alter column version type varchar(16)`);
    await fresh.db.query(`create view project_names as select id, owner_id, name from projects`);
    const doc = parseDocument(readFileSync(SAMPLE_FILES_DEFINITION, 'utf8'));
    doc.setIn(
      ['entities', 'project_names'],
      doc.createNode({
        description: 'Your projects by name.',
        owner: { column: 'owner_id', declared: 'a view of projects, whose owner_id references users' },
        order_by: ['id'],
        columns: { id: { export: 'Project id.' }, owner_id: { export: 'You.' }, name: { export: 'Its name.' } },
        erase: 'delete',
      }),
    );
    doc.setIn(['erasure'], { ghost_user: '00000000-0000-0000-0000-000000000000' });
    const rules: Record<string, unknown> = {
      users: { anonymize: { email: { text: 'erased@example.invalid' }, name: null } },
      projects: { anonymize: { owner_id: 'ghost' } },
      features: 'delete',
      pipeline_runs: 'delete',
      releases: { anonymize: { version: 'hmac', notes: { text: 'removed by request, long enough' } } },
      release_assets: 'delete',
      avatars: 'delete',
    };
    for (const [entity, rule] of Object.entries(rules)) doc.setIn(['entities', entity, 'erase'], rule);
    const file = path.join(dir, 'second-person.yaml');
    writeFileSync(file, doc.toString());
    const env2 = { ...fresh.cliEnv, EXPORT_DEFINITION: file };
    expect((await runCli(['migrate'], env2)).code).toBe(0);
    const check = await runCli(['check', '--json'], env2);
    expect(check.code, check.stderr).toBe(2);
    const problems = JSON.parse(check.stdout).problems as string[];
    const expected = [
      /^users\.email: erase\.anonymize writes the same text for everyone erased, and the column is in a unique key \(email\)/,
      /^releases\.version: erase\.anonymize writes 69 characters \(an hmac pseudonym\), and the column holds 16/,
      /^entities\.project_names: erase: delete, but project_names is a view/,
    ];
    for (const pattern of expected) expect(problems, String(pattern)).toContainEqual(expect.stringMatching(pattern));
    // What holds for every person is not named: null in a unique column, a ghost where no key is unique, hmac in text.
    expect(problems.filter((p) => /^users\.name|^projects\.owner_id: erase\.anonymize writes/.test(p))).toEqual([]);
  });
});
