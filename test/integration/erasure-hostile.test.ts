import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreshDatabases } from '../support/fresh-database.ts';
import { createTestEnv, runCli, type TestEnv } from '../support/harness.ts';

/*
 * What a hostile review of the erasure found, each now held by a test on a
 * schema made to trip it (test/fixtures/erasure/hostile.sql and .yaml): a
 * partitioned table, where a ctid names a row in each partition; snowflake
 * ids past 2^53, which a JSON number rounds; a message between two people
 * who are both erased; an export asked for while an erasure runs; a second
 * erasure of someone erased.
 */
const FIXTURES = new URL('../fixtures/erasure/', import.meta.url).pathname;
const GHOST = '00000000-0000-4000-8000-000000000000';
const KEY = 'k'.repeat(32);
let env: TestEnv;
let databases: FreshDatabases;
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
});
afterAll(async () => {
  await databases?.close();
  await env?.close();
});

async function world() {
  const fresh = await databases.create();
  await fresh.db.query(readFileSync(`${FIXTURES}hostile.sql`, 'utf8'));
  const cliEnv = { ...fresh.cliEnv, EXPORT_DEFINITION: `${FIXTURES}hostile.yaml`, EXPORT_ERASE_HMAC_KEY: KEY };
  const user = async (name: string, id: string = randomUUID()) => {
    await fresh.db.query('insert into users (id, email, name) values ($1, $2, $3)', [id, `${name}@example.test`, name]);
    return id;
  };
  await user('ghost', GHOST);
  const ada = await user('ada');
  const bob = await user('bob');
  expect((await runCli(['migrate'], cliEnv)).code).toBe(0);
  const check = await runCli(['check'], cliEnv);
  expect(check.code, check.stderr).toBe(0);
  return { db: fresh.db, cliEnv, ada, bob };
}

async function erase(w: { db: pg.Pool; cliEnv: Record<string, string> }, user: string) {
  const asked = await runCli(['erase', user, '--reason', 'asked', '--json'], w.cliEnv);
  expect(asked.code, asked.stderr).toBe(0);
  const id = JSON.parse(asked.stdout).id as string;
  const nightly = await runCli(['nightly'], { ...w.cliEnv, EXPORT_ERASE_BATCH: '1' });
  const row = (await w.db.query('select status, error, receipt from data_export_erasures where id = $1', [id])).rows[0];
  expect(row.status, `${row.error} ${nightly.stderr.slice(-2000)}`).toBe('done');
  return row.receipt.entities as Record<string, { counts: Record<string, number> }>;
}

describe('erasure on a schema made to trip it', () => {
  it("a partitioned table: only the person's rows go, though another partition's row sits at the same ctid", async () => {
    const w = await world();
    for (const [user, kind] of [
      [w.ada, 'a'],
      [w.bob, 'b'],
    ] as const)
      await w.db.query(`insert into notes (id, kind, user_id, body) values ($1, $2, $3, 'note')`, [
        randomUUID(),
        kind,
        user,
      ]);
    // Each partition's first row: the same ctid, (0,1).
    const ctids = (await w.db.query(`select ctid::text as c from notes order by kind`)).rows.map((r) => r.c);
    expect(ctids).toEqual(['(0,1)', '(0,1)']);
    const receipt = await erase(w, w.ada);
    expect(receipt.notes!.counts.deleted).toBe(1);
    expect((await w.db.query('select user_id from notes')).rows).toEqual([{ user_id: w.bob }]);
  });

  it('snowflake ids past 2^53: each row anonymized once, one batch at a time, with the pseudonym of its own value', async () => {
    const w = await world();
    const ids = [2n ** 60n + 200n, 2n ** 60n + 250n, 2n ** 60n + 251n];
    for (const [i, id] of ids.entries())
      await w.db.query(`insert into snow (id, user_id, body) values ($1, $2, $3)`, [id.toString(), w.ada, `post ${i}`]);
    await w.db.query(`insert into snow (id, user_id, body) values ($1, $2, 'bob''s')`, [
      (2n ** 60n + 201n).toString(),
      w.bob,
    ]);
    // Without its owner column ghosted, the rows would keep pointing at a user row the erasure deletes: check says so.
    const unghosted = path.join(mkdtempSync(path.join(os.tmpdir(), 'hostile-')), 'unghosted.yaml');
    writeFileSync(
      unghosted,
      readFileSync(`${FIXTURES}hostile.yaml`, 'utf8').replace('{ body: hmac, user_id: ghost }', '{ body: hmac }'),
    );
    const check = await runCli(['check'], { ...w.cliEnv, EXPORT_DEFINITION: unghosted });
    expect([check.code, check.stderr]).toEqual([
      2,
      expect.stringMatching(
        /entities\.snow: erase: anonymize keeps its rows pointing at the person's user row by user_id/,
      ),
    ]);
    const receipt = await erase(w, w.ada);
    expect(receipt.snow!.counts.anonymized).toBe(3);
    const personal = createHmac('sha256', KEY).update(w.ada).digest();
    const rows = (
      await w.db.query(`select id::text, user_id, body from snow where id = any($1::bigint[]) order by id`, [
        ids.map(String),
      ])
    ).rows;
    expect(rows).toEqual(
      ids.map((id, i) => ({
        id: id.toString(),
        user_id: GHOST,
        body: `hmac:${createHmac('sha256', personal).update(`post ${i}`).digest('hex')}`,
      })),
    );
    expect((await w.db.query(`select body from snow where user_id = $1`, [w.bob])).rows).toEqual([{ body: "bob's" }]);
  });

  it('a message between two people: their side ghosted when the first is erased, the message gone when the second is', async () => {
    const w = await world();
    const message = randomUUID();
    await w.db.query(`insert into messages (id, sender_id, recipient_id, body) values ($1, $2, $3, 'hello')`, [
      message,
      w.ada,
      w.bob,
    ]);
    const first = await erase(w, w.ada);
    expect(first.messages!.counts.shared).toBe(1);
    expect((await w.db.query('select sender_id, recipient_id from messages')).rows).toEqual([
      { sender_id: GHOST, recipient_id: w.bob },
    ]);
    const second = await erase(w, w.bob);
    expect(second.messages!.counts.deleted).toBe(1);
    expect((await w.db.query('select 1 from messages')).rowCount).toBe(0);
  });

  it("a document's settings go with it, unless another's document points at them too; comments on a post go with it, as the rule says, and check refuses a rule that would let the cascade decide", async () => {
    const w = await world();
    const [mine, shared, bobs] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [mine, shared, bobs]) await w.db.query(`insert into doc_meta (id, title) values ($1, 't')`, [id]);
    for (const [user, meta] of [
      [w.ada, mine],
      [w.ada, shared],
      [w.bob, shared],
      [w.bob, bobs],
    ] as const)
      await w.db.query(`insert into docs (id, user_id, meta_id) values ($1, $2, $3)`, [randomUUID(), user, meta]);
    const post = randomUUID();
    await w.db.query(`insert into posts (id, user_id, body) values ($1, $2, 'p')`, [post, w.ada]);
    await w.db.query(`insert into comments (id, post_id, author_id, body) values ($1, $2, $3, 'c')`, [
      randomUUID(),
      post,
      w.bob,
    ]);
    // Comments as their authors' (not through the post): the post's delete would cascade into Bob's. Refused.
    const unhung = path.join(mkdtempSync(path.join(os.tmpdir(), 'hostile-')), 'unhung.yaml');
    writeFileSync(
      unhung,
      readFileSync(`${FIXTURES}hostile.yaml`, 'utf8').replace(
        'through: { entity: posts, column: post_id }',
        'owner: { column: author_id }',
      ),
    );
    const check = await runCli(['check'], { ...w.cliEnv, EXPORT_DEFINITION: unhung });
    expect([check.code, check.stderr]).toEqual([
      2,
      expect.stringMatching(/entities\.posts: erase: delete, and comments\.post_id \(ON DELETE CASCADE\) would delete/),
    ]);
    const receipt = await erase(w, w.ada);
    expect(receipt.docs!.counts.deleted).toBe(2);
    expect(receipt.doc_meta!.counts.deleted).toBe(1);
    expect((await w.db.query('select id from doc_meta order by id')).rows.map((r) => r.id)).toEqual(
      [shared, bobs].sort(),
    );
    expect(receipt.comments!.counts.deleted).toBe(1);
    expect((await w.db.query('select 1 from comments')).rowCount).toBe(0);
  });

  it('no export of a person while their erasure runs, and no second erasure of someone erased', async () => {
    const w = await world();
    const asked = await runCli(['erase', w.ada, '--reason', 'asked', '--json'], w.cliEnv);
    const id = JSON.parse(asked.stdout).id as string;
    // As a worker's claim leaves it: processing.
    await w.db.query(
      `update data_export_erasures set status = 'processing', claim_id = gen_random_uuid(), claim_expires_at = now() + interval '1 hour', started_at = now() where id = $1`,
      [id],
    );
    await expect(w.db.query('insert into data_export_requests (user_id) values ($1)', [w.ada])).rejects.toThrow(
      /is being erased/,
    );
    // Started, it is carried to its end: no cancel.
    const cancel = await runCli(['erase', '--cancel', id, '--reason', 'changed my mind'], w.cliEnv);
    expect([cancel.code, cancel.stderr]).toEqual([
      1,
      expect.stringMatching(/one that has started is carried to its end/),
    ]);
    await w.db.query(`update data_export_erasures set claim_expires_at = now() - interval '1 second' where id = $1`, [
      id,
    ]);
    expect((await runCli(['nightly'], w.cliEnv)).code).toBe(0);
    expect((await w.db.query('select status from data_export_erasures where id = $1', [id])).rows[0].status).toBe(
      'done',
    );
    // The user row is gone here; where an application keeps it (a tombstone), a second erasure is refused all the same.
    await w.db.query('insert into users (id, email, name) values ($1, $2, $3)', [w.ada, 'tombstone', null]);
    const again = await runCli(['erase', w.ada, '--reason', 'again'], w.cliEnv);
    expect([again.code, again.stderr]).toEqual([2, expect.stringMatching(/has been erased already/)]);
  });
});
