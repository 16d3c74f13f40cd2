import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
import { verifyTrail } from '../../src/passes/audit-verify.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { createTestEnv, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';

/**
 * The audit trail a regulator may ask for (sql/000010): only the exporter
 * writes it, every change of a request is in it, and a history rewritten by
 * someone who can turn triggers off is found by `exporter audit verify`
 * against the daily anchors in object storage.
 */
let env: TestEnv;
let app: pg.Pool;
beforeAll(async () => {
  env = await createTestEnv();
  // An application's role as a careless adopter grants it: everything on every table, a schema of its own.
  const role = `app_${Math.random().toString(36).slice(2, 10)}`;
  await env.admin.query(`create role ${role} login password 'app-password'`);
  await env.admin.query(
    `grant all on all tables in schema public to ${role}; grant all on all sequences in schema public to ${role}; grant usage, create on schema public to ${role}`,
  );
  await env.admin.query(`create schema evil authorization ${role}`);
  // Until migrate runs again, what GRANT ALL gave that lets a role run code as the exporter or empty its tables stops the exporter.
  const refused = await runCli(['fulfill'], env.cliEnv);
  expect([refused.code, refused.stderr]).toEqual([
    2,
    expect.stringMatching(
      /the audit trail refuses to work: (TRIGGER|TRUNCATE|REFERENCES) on data_export_\w+ held by app_\w+ \(run exporter migrate, which revokes it\)/,
    ),
  ]);
  expect((await runCli(['migrate'], env.cliEnv)).code).toBe(0);
  const url = new URL(env.databaseUrl);
  url.username = role;
  url.password = 'app-password';
  app = new pg.Pool({ connectionString: url.toString(), max: 2 });
});
afterAll(async () => {
  await app?.end();
  await env?.close();
});

const verify = async (extra: string[] = []) => {
  const result = await runCli(['audit', 'verify', '--json', ...extra], env.cliEnv);
  return {
    code: result.code,
    stderr: result.stderr,
    ...(JSON.parse(result.stdout || '{}') as {
      ok: boolean;
      problem?: { what: string; eventId?: string; seq?: string };
      prunedThrough: string | null;
      anchors: { checked: number };
    }),
  };
};

/** verifyTrail on a connection that holds an uncommitted rewrite (the CLI would not see it): the same check, in process. */
async function verifyIn(client: pg.PoolClient, world: TestEnv) {
  const storage = new S3Storage(world.config().storage);
  try {
    // A pool of this one connection, handed back to nobody (its transaction stays open).
    const connection = { query: client.query.bind(client), release: () => {} };
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: { connect: async () => connection, end: async () => {} } as never }),
      plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })],
    });
    return await verifyTrail(db, storage, { retentionSeconds: 1095 * 86_400, now: new Date() });
  } finally {
    storage.destroy();
  }
}

/** Every sealed event hashed again in order, and the head moved to the last: consistent in itself. */
async function rewrite(client: pg.PoolClient): Promise<void> {
  await client.query(`
    do $$
    declare e record; prev text;
    begin
      select prev_sha256 into prev from data_export_events where seq is not null order by seq limit 1;
      for e in select * from data_export_events where seq is not null order by seq loop
        update data_export_events set prev_sha256 = prev,
               sha256 = exporter_event_sha256(prev, e.seq, e.id, e.request_id, e.user_id, e.at, e.event, e.actor, e.db_role, e.detail)
         where id = e.id returning sha256 into prev;
      end loop;
      update data_export_audit_head set seq = (select max(seq) from data_export_events), sha256 = prev;
    end $$`);
}

/** The bucket's anchors, gone (a test's way to have a day anchored again). */
async function deleteAnchors(): Promise<void> {
  for (const key of (
    await env.s3Client.send(new ListObjectVersionsCommand({ Bucket: env.bucket, Prefix: 'exports/audit/' }))
  ).Versions ?? []) {
    await env.s3Client.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: key.Key!, VersionId: key.VersionId }));
  }
}

/** As a superuser can: triggers off, every event's time moved back and the whole chain hashed again, consistent in itself (history "as if" written earlier). */
async function rewriteChain(client: pg.PoolClient | pg.Pool, shift = '0 days'): Promise<void> {
  await client.query(`
    do $$
    declare e record; prev text;
    begin
      set local session_replication_role = replica;
      update data_export_events set at = at - interval '${shift}';
      select prev_sha256 into prev from data_export_events where seq is not null order by seq limit 1;
      for e in select * from data_export_events where seq is not null order by seq loop
        update data_export_events set prev_sha256 = prev,
               sha256 = exporter_event_sha256(prev, e.seq, e.id, e.request_id, e.user_id, e.at, e.event, e.actor, e.db_role, e.detail)
         where id = e.id returning sha256 into prev;
      end loop;
      update data_export_audit_head set sha256 = prev;
    end $$`);
}

describe('the audit trail is written by the exporter only', () => {
  it('an application role with every privilege cannot insert, update, delete or truncate events, nor prune them, nor move the head; its changes of requests are traced with its role', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    expect((await runCli(['fulfill', '--request', id], env.cliEnv)).code).toBe(0);
    const event = (
      await env.admin.query(`select id from data_export_events where request_id = $1 order by seq limit 1`, [id])
    ).rows[0]!.id;

    const refused = async (sql: string, pattern: RegExp) => expect(app.query(sql), sql).rejects.toThrow(pattern);
    await refused(
      `insert into data_export_events (request_id, user_id, event, actor, detail) values ('${id}', 'u', 'built', 'mallory', '{}')`,
      /written by the exporter only \(insert by app_\w+ refused\)/,
    );
    await refused(
      `insert into data_export_events (request_id, user_id, at, event, actor, detail, seq, prev_sha256, sha256, db_role) values ('${id}', 'u', '2020-01-01', 'built', 'mallory', '{}', 999999, 'x', 'x', 'x')`,
      /written by the exporter only/,
    );
    await refused(
      `update data_export_events set actor = 'mallory' where id = ${event}`,
      /append-only \(update refused\)/,
    );
    await refused(`delete from data_export_events where id = ${event}`, /append-only \(delete refused\)/);
    await refused(`truncate data_export_events`, /permission denied/);
    // As the owner (whatever the privileges): refused by the trail's own trigger.
    await expect(env.admin.query(`truncate data_export_events`)).rejects.toThrow(/append-only \(truncate refused\)/);
    // The retention's old door, a session setting, opens nothing; its new one, a function, is the exporter's.
    const client = await app.connect();
    try {
      await client.query(`set exporter.audit_prune_before = '9999-01-01'`);
      await expect(client.query(`delete from data_export_events`)).rejects.toThrow(/append-only \(delete refused\)/);
    } finally {
      client.release(true);
    }
    await refused(`select exporter_prune_audit(interval '30 days')`, /permission denied/);
    await refused(`select exporter_record_event('${id}', 'link_signed', 'mallory', '{}')`, /permission denied/);
    await refused(`update data_export_audit_head set seq = 1`, /audit trail's \(update refused\)/);
    await refused(`truncate data_export_audit_head`, /permission denied|refused/);
    await refused(`truncate data_export_requests`, /permission denied/);
    // No trigger of its own on the exporter's tables (it would run as the exporter's role), no foreign key onto the trail.
    await refused(
      `create trigger a_hide before insert on data_export_events for each row execute function suppress_redundant_updates_trigger()`,
      /permission denied/,
    );
    await refused(
      `create trigger a_spy before update on data_export_requests for each row execute function suppress_redundant_updates_trigger()`,
      /permission denied/,
    );
    await refused(`create table evil.pin (e bigint references public.data_export_events (id))`, /permission denied/);
    await refused(`select exporter_seal_trail()`, /permission denied/);
    // A guard of its own put first on the search path changes nothing: the trail's functions look in pg_catalog and the exporter's schema only.
    await app.query(`create function evil.exporter_trail_owner() returns boolean language sql as 'select true'`);
    const evil = await app.connect();
    try {
      await evil.query(`set search_path = evil, public`);
      await expect(
        evil.query(
          `insert into data_export_events (request_id, user_id, event, actor, detail) values ('${id}', 'u', 'built', 'mallory', '{}')`,
        ),
      ).rejects.toThrow(/written by the exporter only/);
    } finally {
      evil.release(true);
    }
    // Even the exporter's own role does not write an event with a plain INSERT.
    await expect(
      env.admin.query(
        `insert into data_export_events (request_id, user_id, event, actor, detail) values ('${id}', 'u', 'built', 'x', '{}')`,
      ),
    ).rejects.toThrow(/a plain insert is refused/);

    // What the application may do to requests is traced, by its role: the key of a ready archive moved, its link and expiry changed.
    const row = (await requestRow(env, id))!;
    await app.query(
      `update data_export_requests set object_key = 'exports/elsewhere.zip', expires_at = expires_at + interval '30 days', download_url = 'https://example.test/x?X-Amz-Signature=abc' where id = $1`,
      [id],
    );
    await app.query(`update data_export_requests set user_id = $2 where id = $1`, [id, await insertUser(env.admin)]);
    const history = JSON.parse((await runCli(['history', id, '--json'], env.cliEnv)).stdout) as {
      event: string;
      actor: string;
      dbRole: string;
      detail: Record<string, unknown>;
    }[];
    const changed = history.filter((e) => e.event === 'changed');
    expect(changed).toHaveLength(2);
    expect(changed[0]).toMatchObject({
      actor: 'unknown',
      dbRole: expect.stringMatching(/^app_/),
      detail: {
        object_key: { from: row.object_key, to: 'exports/elsewhere.zip' },
        download_url: 'replaced',
        expires_at: { from: expect.any(String), to: expect.any(String) },
      },
    });
    expect(changed[1]).toMatchObject({ detail: { user_id: { from: user } } });
    // The link itself is never stored.
    expect(JSON.stringify(history)).not.toContain('X-Amz-Signature');
    expect(history[0]).toMatchObject({ event: 'requested', dbRole: new URL(env.databaseUrl).username });
    // The application's own requests are made, and traced as its role's.
    const made = (
      await app.query(`insert into data_export_requests (user_id) values ($1) returning id`, [
        await insertUser(env.admin),
      ])
    ).rows[0]!.id;
    expect(JSON.parse((await runCli(['history', made, '--json'], env.cliEnv)).stdout)[0]).toMatchObject({
      event: 'requested',
      dbRole: expect.stringMatching(/^app_/),
    });
    expect((await verify()).ok).toBe(true);

    // A superuser (or the owner) adds a trigger the exporter did not write: every change of a request is refused, and nothing is built.
    // (The application's role wrote the function; a trigger needs TRIGGER, which migrate took back, so a superuser adds it, as a careless grant would allow.)
    await app.query(`create function evil.spy() returns trigger language plpgsql as 'begin return new; end'`);
    await env.admin.query(
      `create trigger a_spy before update on data_export_requests for each row execute function evil.spy()`,
    );
    try {
      await expect(
        app.query(`update data_export_requests set status = 'failed', error = 'x' where id = $1`, [id]),
      ).rejects.toThrow(
        /the audit trail refuses to work: trigger a_spy on data_export_requests runs code the exporter did not write/,
      );
      const blocked = await runCli(['fulfill'], env.cliEnv);
      expect([blocked.code, blocked.stderr]).toEqual([
        2,
        expect.stringMatching(/trigger a_spy on data_export_requests runs code the exporter did not write/),
      ]);
    } finally {
      await env.admin.query(`drop trigger a_spy on data_export_requests`);
    }
    // The same on the erasures' tables, which the exporter's role changes too: an erasure is refused, nothing erased.
    await env.admin.query(
      `create trigger a_spy before insert or update on data_export_erasures for each row execute function evil.spy()`,
    );
    try {
      const user = await insertUser(env.admin);
      const erase = await runCli(['erase', user, '--reason', 'asked'], env.cliEnv);
      expect([erase.code, erase.stderr]).toEqual([
        2,
        expect.stringMatching(/trigger a_spy on data_export_erasures runs code the exporter did not write/),
      ]);
      expect((await env.admin.query('select 1 from data_export_erasures where user_id = $1', [user])).rowCount).toBe(0);
    } finally {
      await env.admin.query(`drop trigger a_spy on data_export_erasures`);
    }
    // An erasure's whose, why and what it did change only with a trace, whoever changes them.
    const erased = await insertUser(env.admin);
    const asked = await runCli(['erase', erased, '--reason', 'asked', '--grace', '14d', '--json'], env.cliEnv);
    const erasureId = JSON.parse(asked.stdout).id as string;
    await app.query(`update data_export_erasures set user_id = 'someone-else', receipt = '{}' where id = $1`, [
      erasureId,
    ]);
    const traced = (
      await env.admin.query(`select event, detail, db_role from data_export_events where request_id = $1 order by id`, [
        erasureId,
      ])
    ).rows;
    expect(traced.map((e) => e.event)).toEqual(['erasure_requested', 'changed']);
    expect(traced[1]).toMatchObject({
      detail: { user_id: { from: erased, to: 'someone-else' }, receipt_changed: true },
      db_role: expect.stringMatching(/^app_/),
    });
    await env.admin.query(`update data_export_erasures set status = 'cancelled' where id = $1`, [erasureId]);
    // Nor are requests emptied unseen, by anyone.
    await expect(env.admin.query('truncate data_export_requests')).rejects.toThrow(
      /cannot be truncated: delete its rows instead/,
    );
  });
});

describe('exporter audit verify', () => {
  it('passes an untouched trail across a retention cut and a pruned request; names an edited event, a rewritten history and a removed event', async () => {
    // Old history: requests made, built, one pruned; then moved 100 days back, as if written then.
    const old: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await insertRequest(env.admin, await insertUser(env.admin));
      expect((await runCli(['fulfill', '--request', id], env.cliEnv)).code).toBe(0);
      old.push(id);
    }
    await env.admin.query(`update data_export_requests set expires_at = now() - interval '1 second' where id = $1`, [
      old[0],
    ]);
    expect((await runCli(['expire'], { ...env.cliEnv, EXPORT_AUDIT_RETENTION: '3650d' })).code).toBe(0);
    await env.admin.query(`update data_export_requests set completed_at = now() - interval '100 days' where id = $1`, [
      old[0],
    ]);
    expect(
      (await runCli(['expire', '--prune-after', '90d'], { ...env.cliEnv, EXPORT_AUDIT_RETENTION: '3650d' })).code,
    ).toBe(0);
    expect(await requestRow(env, old[0]!)).toBeUndefined();
    // Today's anchor was written by that expire; it would hold the hash before the move, so it goes with it (a fresh trail's first day).
    await deleteAnchors();
    await rewriteChain(env.admin, '100 days');
    // A trail with events older than two days and no anchor: nothing outside the database vouches for it.
    expect((await verify()).problem?.what).toMatch(
      /^the trail was last anchored never, and holds events older than two days/,
    );
    expect((await runCli(['expire'], { ...env.cliEnv, EXPORT_AUDIT_RETENTION: '3650d' })).code).toBe(0);
    expect(await verify()).toMatchObject({ code: 0, ok: true });
    const recent = await insertRequest(env.admin, await insertUser(env.admin));
    expect((await runCli(['fulfill', '--request', recent], env.cliEnv)).code).toBe(0);

    // The retention, through expire only: the 100-day-old events go, the cut is recorded, today's anchor is written.
    const before = Number((await env.admin.query(`select count(*) from data_export_events`)).rows[0]!.count);
    const expire = await runCli(['expire'], { ...env.cliEnv, EXPORT_AUDIT_RETENTION: '60d' });
    expect(expire.code, expire.stderr).toBe(0);
    const after = Number((await env.admin.query(`select count(*) from data_export_events`)).rows[0]!.count);
    expect(after).toBeLessThan(before);
    expect(
      (await env.admin.query(`select count(*) from data_export_events where at < now() - interval '60 days'`)).rows[0]!
        .count,
    ).toBe('0');
    expect(
      (await env.admin.query(`select count(*) from data_export_events where event = 'pruned'`)).rows[0]!.count,
    ).toBe('1');
    const fine = await verify();
    expect(fine).toMatchObject({ code: 0, ok: true, prunedThrough: expect.stringMatching(/^\d+$/) });
    // The day's anchor named the newest old event, which the cut deleted once it was past the retention: accounted for.
    expect(fine.anchors).toMatchObject({ checked: 0, beforeFirstEvent: 1 });
    await deleteAnchors();
    expect((await runCli(['expire'], env.cliEnv)).code).toBe(0);
    expect((await verify()).anchors).toMatchObject({ checked: 1, beforeFirstEvent: 0 });
    // A retention shorter than 30 days is refused by the database itself.
    await expect(env.admin.query(`select exporter_prune_audit(interval '1 day')`)).rejects.toThrow(/at least 30 days/);
    // --from: only the events from a time on.
    expect(await verify(['--from', new Date(Date.now() - 3_600_000).toISOString()])).toMatchObject({
      code: 0,
      ok: true,
    });

    // A superuser changes one event with triggers off: verify names it.
    const target = (
      await env.admin.query(
        `select id::text as id, seq::text as seq from data_export_events where request_id = $1 and event = 'built'`,
        [recent],
      )
    ).rows[0]!;
    const superuser = await env.admin.connect();
    try {
      await superuser.query(`set session_replication_role = replica`);
      await superuser.query(`update data_export_events set detail = detail || '{"rows": 0}' where id = $1`, [
        target.id,
      ]);
      const edited = await verify();
      expect(edited).toMatchObject({ code: 1, ok: false, problem: { eventId: target.id, seq: target.seq } });
      expect(edited.problem!.what).toBe(
        `event ${target.id} (seq ${target.seq}) does not match its hash: it was changed after it was written`,
      );
      const text = await runCli(['audit', 'verify'], env.cliEnv);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^audit trail NOT verified: event \d+ \(seq \d+\) does not match its hash/);

      // The same edit with every later hash recomputed: consistent in itself, but the anchor holds the hash it had.
      await rewriteChain(superuser);
      const rewritten = await verify();
      expect(rewritten).toMatchObject({ code: 1, ok: false });
      expect(rewritten.problem!.what).toMatch(
        /^the anchor exports\/audit\/\d{4}-\d\d-\d\d\.json holds another hash for event \d+ \(seq \d+\): the trail up to it was rewritten after /,
      );

      // An event removed: named by the numbers that are missing, before the anchor's complaint.
      const removed = (
        await env.admin.query(
          `select id::text as id, seq::text as seq from data_export_events where request_id = $1 and event = 'claimed'`,
          [recent],
        )
      ).rows[0]!;
      await superuser.query(`delete from data_export_events where id = $1`, [removed.id]);
      const gone = await verify();
      expect(gone).toMatchObject({ code: 1, ok: false });
      expect(gone.problem!.what).toMatch(
        new RegExp(
          `^the events numbered ${removed.seq} to ${removed.seq}, before event \\d+, are missing: they were removed$`,
        ),
      );
    } finally {
      superuser.release(true);
    }
  });

  it('names the histories a superuser could make consistent in themselves: renumbered above the anchors with a forged cut, emptied, ids swapped', async () => {
    const world = await createTestEnv();
    try {
      const run = async (args: string[]) => {
        const result = await runCli(args, world.cliEnv);
        return {
          code: result.code,
          ...(JSON.parse(result.stdout || '{}') as { ok: boolean; problem?: { what: string } }),
        };
      };
      for (let i = 0; i < 3; i++)
        expect(
          (
            await runCli(
              ['fulfill', '--request', await insertRequest(world.admin, await insertUser(world.admin))],
              world.cliEnv,
            )
          ).code,
        ).toBe(0);
      expect((await runCli(['expire'], world.cliEnv)).code).toBe(0);
      expect(await run(['audit', 'verify', '--json'])).toMatchObject({ code: 0, ok: true });
      const superuser = await world.admin.connect();
      try {
        await superuser.query('begin');
        await superuser.query('set local session_replication_role = replica');
        // Two events' ids swapped (what the report orders by): their hashes cover their ids.
        const ids = (
          await superuser.query<{ id: string }>('select id::text as id from data_export_events order by seq limit 2')
        ).rows.map((r) => r.id);
        await superuser.query('alter table data_export_events alter column id drop identity');
        await superuser.query(
          `update data_export_events set id = -1 where id = ${ids[0]}; update data_export_events set id = ${ids[0]} where id = ${ids[1]}; update data_export_events set id = ${ids[1]} where id = -1`,
        );
        const swapped = await verifyIn(superuser, world);
        expect(swapped.problem?.what).toMatch(/does not match its hash: it was changed after it was written/);
        await superuser.query('rollback');

        // Renumbered above every anchor, with a cut forged to account for the numbers below: the anchor names an event the retention still keeps.
        await superuser.query('begin');
        await superuser.query('set local session_replication_role = replica');
        await superuser.query(`
          update data_export_events set seq = seq + 1000000;
          insert into data_export_events (request_id, user_id, event, actor, detail, at, db_role, seq)
          values (null, null, 'pruned', 'exporter', jsonb_build_object('through_seq', 1000000, 'through_sha256', (select prev_sha256 from data_export_events order by seq limit 1),
                  'through_at', now() - interval '400 days', 'deleted', 0, 'retention_seconds', 31536000), now(), 'postgres', (select max(seq) + 1 from data_export_events))`);
        await rewrite(superuser);
        const renumbered = await verifyIn(superuser, world);
        expect(renumbered.problem?.what).toMatch(
          /which the retention still kept when the cut of .* says it was deleted: the trail before event 1000001 was removed or renumbered/,
        );
        await superuser.query('rollback');

        // Emptied, the head moved on: the anchors name events that are gone.
        await superuser.query('begin');
        await superuser.query('set local session_replication_role = replica');
        await superuser.query('delete from data_export_events; update data_export_audit_head set seq = 1000000000');
        const emptied = await verifyIn(superuser, world);
        expect(emptied.ok).toBe(false);
        expect(emptied.problem?.what).toMatch(/no retention cut accounts for it/);
        await superuser.query('rollback');
      } finally {
        superuser.release(true);
      }
      expect(await run(['audit', 'verify', '--json'])).toMatchObject({ code: 0, ok: true });
    } finally {
      await world.close();
    }
  });

  it('refuses a date that does not exist (exit 2), in verify and report alike', async () => {
    for (const args of [
      ['audit', 'verify', '--from', '2026-02-31'],
      ['report', '--from', '2026-02-31', '--to', '2026-03-31'],
      ['report', '--from', '2026-02-01', '--to', '2026-02-01T25:00:00Z'],
    ]) {
      const result = await runCli(args, env.cliEnv);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/must be a date that exists/);
    }
  });
});

describe('the anchor under S3 Object Lock', () => {
  it('is kept in compliance mode for the retention where the bucket has Object Lock: nobody deletes it', async (context) => {
    if (env.s3.kind === 's3rver') context.skip();
    const bucket = `lock-${Math.random().toString(36).slice(2, 12)}`;
    await env.s3Client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    const settings = { ...env.cliEnv, S3_BUCKET: bucket, EXPORT_AUDIT_RETENTION: '400d' };
    await insertRequest(env.admin, await insertUser(env.admin));
    const result = await runCli(['expire'], settings);
    expect(result.code, result.stderr).toBe(0);
    const key = `exports/audit/${new Date().toISOString().slice(0, 10)}.json`;
    const retention = await env.s3Client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
    expect(retention.Retention?.Mode).toBe('COMPLIANCE');
    expect(retention.Retention!.RetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 399 * 86_400_000);
    const versions =
      (await env.s3Client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }))).Versions ?? [];
    expect(versions).toHaveLength(1);
    await expect(
      env.s3Client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versions[0]!.VersionId })),
    ).rejects.toThrow();
    // A second run the same day leaves it as it is.
    expect((await runCli(['expire'], settings)).code).toBe(0);
    expect(
      ((await env.s3Client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }))).Versions ?? []).length,
    ).toBe(1);
  });
});
