import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.ts';
import { migrateToLatest, SQL_DIR } from '../../src/db/migrate.ts';
import { isUserIdText } from '../../src/model/user-id.ts';
import { FreshDatabases } from '../support/fresh-database.ts';
import { createTestEnv, getObject, runCli, type TestEnv } from '../support/harness.ts';
import { readZip } from '../support/zip.ts';

/*
 * An application that is not ours adopts the exporter: its database holds
 * only its own tables, its users may have any key type, and a database an
 * earlier version migrated keeps working. Each test has a database of its
 * own, made here (the harness's holds the sample application).
 */
let env: TestEnv;
let dir: string;
let databases: FreshDatabases;
const freshDatabase = () => databases.create();
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
  dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-adopter-'));
});
afterAll(async () => {
  await databases?.close();
  rmSync(dir, { recursive: true, force: true });
  await env?.close();
});

const sampleSchema = readFileSync(new URL('../../definitions/sample-schema.sql', import.meta.url), 'utf8');
const tablesOf = async (db: pg.Pool) =>
  (
    await db.query<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public' order by 1`)
  ).rows.map((r) => r.t);
const requestOf = async (db: pg.Pool, id: string) =>
  (await db.query('select * from data_export_requests where id = $1', [id])).rows[0];

describe('an application that is not ours', () => {
  it('an application that uses Kysely’s own migration tables keeps them and its rows; an exporter before 0.2’s record moves to the exporter’s own', async () => {
    // The application migrates with Kysely: kysely_migration holds its rows. The exporter records its own elsewhere.
    const app = await freshDatabase();
    await app.db.query(
      `create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null);
       create table kysely_migration_lock (id varchar(255) not null primary key, is_locked integer default 0 not null);
       insert into kysely_migration values ('2024_01_01_app_init', '2024-01-01T00:00:00.000Z');
       insert into kysely_migration_lock values ('migration_lock', 0);`,
    );
    const migrated = await runCli(['migrate'], app.cliEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((await app.db.query('select name from kysely_migration')).rows).toEqual([{ name: '2024_01_01_app_init' }]);
    const ours = (await app.db.query('select name from data_export_migration order by name')).rows.map((r) => r.name);
    expect(ours[0]).toMatch(/^000001_/);
    expect((await runCli(['migrate'], app.cliEnv)).code).toBe(0);

    // An exporter before 0.2 recorded its migrations in kysely_migration: migrate moves the record, and applies nothing twice.
    const old = await freshDatabase();
    expect((await runCli(['migrate'], old.cliEnv)).code).toBe(0);
    await old.db.query(
      `alter table data_export_migration rename to kysely_migration; alter table data_export_migration_lock rename to kysely_migration_lock`,
    );
    const status = await runCli(['status'], old.cliEnv);
    expect(status.code, status.stderr).toBe(0);
    const again = await runCli(['migrate'], old.cliEnv);
    expect(again.code, again.stderr).toBe(0);
    expect(again.logs.find((l) => l.msg === 'schema up to date')).toBeDefined();
    expect(await tablesOf(old.db)).not.toContain('kysely_migration');
    expect((await old.db.query('select count(*)::int as n from data_export_migration')).rows[0].n).toBe(ours.length);
  });

  it('migrate on a database without a users table creates only the exporter’s own tables, and says the user table is missing', async () => {
    const { db, cliEnv } = await freshDatabase();
    await db.query('create table customers (id int primary key)');
    const migrated = await runCli(['migrate'], cliEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(await tablesOf(db)).toEqual([
      'customers',
      'data_export_audit_head',
      'data_export_deleted_objects',
      'data_export_erased',
      'data_export_erasure_values',
      'data_export_erasures',
      'data_export_events',
      'data_export_housekeeping',
      'data_export_migration',
      'data_export_migration_lock',
      'data_export_requests',
    ]);
    // A bare migrate links nothing on a database that is not the sample's: no trigger on whatever table is called users.
    expect(migrated.logs.find((l) => l.level === 'warn')?.msg).toMatch(
      /no definition named \(EXPORT_DEFINITION\) and this database does not hold the sample application's tables: no user table linked; run EXPORT_DEFINITION=<your definition> exporter migrate/,
    );
    // Commands that need the link say what to run, in one line, exit 2.
    const request = await runCli(['request', '1'], cliEnv);
    expect([request.code, request.stderr.trim()]).toEqual([
      2,
      expect.stringMatching(
        /^exporter: the exporter is not linked to a user table yet: run EXPORT_DEFINITION=<your definition> exporter migrate/,
      ),
    ]);
    expect(request.stderr.trim().split('\n')).toHaveLength(1);
    // Nothing is built until it is linked: fulfill and check refuse the same way, in one line, before holding the
    // sample definition against tables that are not the application's.
    for (const command of ['fulfill', 'check']) {
      const refused = await runCli([command], cliEnv);
      expect([refused.code, refused.stderr.trim().split('\n')]).toEqual([
        2,
        [expect.stringMatching(/^exporter: the exporter is not linked to a user table yet/)],
      ]);
    }
  });

  it('on a database holding only the five-entity schema, migrate then nightly builds every pending request with no other setting', async () => {
    const { db, cliEnv } = await freshDatabase();
    await db.query(sampleSchema);
    const migrated = await runCli(['migrate'], cliEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(await tablesOf(db)).not.toContain('avatars');
    const user = randomUUID();
    await db.query(`insert into users (id, email, name) values ($1, 'ada@example.test', 'Ada')`, [user]);
    await db.query(`insert into projects (id, owner_id, name) values ($1, $2, 'Engine')`, [randomUUID(), user]);
    const requested = await runCli(['request', user], cliEnv);
    expect(requested.code, requested.stderr).toBe(0);
    const id = requested.stdout.trim();

    const nightly = await runCli(['nightly'], cliEnv);
    expect(nightly.code, nightly.stderr).toBe(0);
    const row = await requestOf(db, id);
    expect(row.status).toBe('ready');
    const files = await readZip(await getObject(env, row.object_key));
    expect(JSON.parse(files.get('json/users.json')!.toString())).toEqual([
      expect.objectContaining({ id: user, email: 'ada@example.test' }),
    ]);
    expect(JSON.parse(files.get('json/projects.json')!.toString()).map((p: { name: string }) => p.name)).toEqual([
      'Engine',
    ]);
    expect([...files.keys()].some((k) => k.startsWith('files/'))).toBe(false);
  });

  it('an integer user key: requests by any spelling of the id, one canonical request, the archive of that person only, gone with the person', async () => {
    const { db, cliEnv } = await freshDatabase();
    await db.query(`
      create table person (id bigint generated always as identity primary key, email text not null, display_name text, password_digest text);
      create table note (id serial primary key, person_id bigint not null references person on delete cascade, body text);`);
    const definition = path.join(dir, 'person.yaml');
    writeFileSync(
      definition,
      `version: 1
user_table: person
user_email: email
user_name: display_name
entities:
  person:
    description: You.
    owner: { column: id }
    order_by: [id]
    columns:
      id: { export: Your id. }
      email: { export: Your email. }
      display_name: { export: Your name. }
      password_digest: { omit: password hash }
  notes:
    table: note
    description: Your notes.
    owner: { column: person_id }
    order_by: [id]
    columns:
      id: { export: Note id. }
      person_id: { export: Your id. }
      body: { export: What you wrote. }
`,
    );
    const withDefinition = { ...cliEnv, EXPORT_DEFINITION: definition };
    const migrated = await runCli(['migrate'], withDefinition);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.logs).toContainEqual(
      expect.objectContaining({
        msg: 'linked to the user table',
        userTable: 'person',
        userKey: 'id',
        keyType: 'bigint',
      }),
    );
    await db.query(
      `insert into person (email, display_name, password_digest) values ('one@example.test', 'One', 'DIGEST-1'), ('two@example.test', 'Two', 'DIGEST-2')`,
    );
    await db.query(`insert into note (person_id, body) values (1, 'mine'), (2, 'NOT-MINE'), (1, 'also mine')`);

    const created = await runCli(['request', '1', '--json'], withDefinition);
    expect(created.code, created.stderr).toBe(0);
    const { id, userId } = JSON.parse(created.stdout);
    expect(userId).toBe('1');
    // Another spelling of the same id is the same user: the rate limit holds. An id that is no person's, or not a number, is refused.
    expect((await runCli(['request', '01'], withDefinition)).code).toBe(3);
    const missing = await runCli(['request', '3'], withDefinition);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/no user with id 3/)]);
    expect((await runCli(['request', 'one'], withDefinition)).code).toBe(2);
    // The application's own intake: a number, or its text.
    expect((await db.query(`select outcome from exporter_request_export(2)`)).rows[0].outcome).toBe('created');
    expect((await db.query(`select outcome from exporter_request_export('2')`)).rows[0].outcome).toBe('rate-limited');
    await expect(db.query(`insert into data_export_requests (user_id) values ('002')`)).rejects.toThrow(
      /data_export_requests_user_id_canonical/,
    );

    const fulfilled = await runCli(['fulfill', '--request', id], withDefinition);
    expect(fulfilled.code, fulfilled.stderr).toBe(0);
    const row = await requestOf(db, id);
    expect(row.status).toBe('ready');
    const files = await readZip(await getObject(env, row.object_key));
    expect(JSON.parse(files.get('json/person.json')!.toString())).toEqual([
      { id: 1, email: 'one@example.test', display_name: 'One' },
    ]);
    expect(JSON.parse(files.get('json/notes.json')!.toString()).map((n: { body: string }) => n.body)).toEqual([
      'mine',
      'also mine',
    ]);
    const everything = [...files.values()].map((b) => b.toString('utf8')).join('\n');
    expect(everything).not.toMatch(/NOT-MINE|DIGEST|two@example/);

    // The person deleted: their requests go with them (and a ready archive's key is remembered for expire to delete).
    await db.query('delete from person where id = 1');
    expect(await requestOf(db, id)).toBeUndefined();
    expect((await db.query('select object_key from data_export_deleted_objects')).rows).toEqual([
      { object_key: row.object_key },
    ]);
  });

  it('a database an earlier version migrated (its users table, the uuid foreign key) keeps its requests, and migrate links it', async () => {
    const { db, url, cliEnv } = await freshDatabase();
    // The migrations as 0.1 shipped them: its 000001 made the sample tables and the foreign key.
    const old = mkdtempSync(path.join(dir, 'sql-0.1-'));
    for (const file of readdirSync(SQL_DIR).filter((f) => f < '000008'))
      copyFileSync(path.join(SQL_DIR, file), path.join(old, file));
    copyFileSync(
      new URL('../fixtures/sql-0.1/000001_schema.sql', import.meta.url).pathname,
      path.join(old, '000001_schema.sql'),
    );
    const handle = connect({ url, maxConnections: 1 });
    try {
      await migrateToLatest(handle.db, old);
    } finally {
      await handle.close();
    }
    const user = randomUUID();
    await db.query(`insert into users (id, email) values ($1, 'old@example.test')`, [user]);
    const { rows } = await db.query(
      `insert into data_export_requests (user_id, requested_at) values ($1, '2026-01-31T12:00:00Z') returning id`,
      [user],
    );

    const migrated = await runCli(['migrate'], cliEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.logs).toContainEqual(
      expect.objectContaining({
        msg: 'migrated',
        applied: ['000008_any_user_key', '000009_deadline_and_audit', '000010_trusted_trail', '000011_erasure'],
      }),
    );
    // A request made before the deadline existed gets its due date from when it was made.
    expect(((await requestOf(db, rows[0].id)).due_at as Date).toISOString()).toBe('2026-02-28T12:00:00.000Z');
    const nightly = await runCli(['nightly'], cliEnv);
    expect(nightly.code, nightly.stderr).toBe(0);
    expect((await requestOf(db, rows[0].id)).status).toBe('ready');
    await db.query('delete from users where id = $1', [user]);
    expect(await requestOf(db, rows[0].id)).toBeUndefined();
  });

  it('a text user key: the SQL intake, a plain insert, `exporter request` and the worker accept exactly the same ids (src/model/user-id.ts)', async () => {
    const { db, cliEnv } = await freshDatabase();
    await db.query(`create table account (handle text primary key, email text)`);
    const definition = path.join(dir, 'account.yaml');
    writeFileSync(
      definition,
      `version: 1
user_table: account
entities:
  account:
    description: You.
    owner: { column: handle }
    order_by: [handle]
    columns:
      handle: { export: Your handle. }
      email: { export: Your email. }
`,
    );
    const withDefinition = { ...cliEnv, EXPORT_DEFINITION: definition };
    expect((await runCli(['migrate'], withDefinition)).code).toBe(0);
    const handles = {
      '@alice:example.org': true,
      'tab\there': false,
      'line\nbreak': false,
      'del\u007f': false,
      [`${'x'.repeat(1000)}`]: true,
      [`${'y'.repeat(1001)}`]: false,
      // 1,000 characters, 2,000 UTF-16 units: characters are counted, in Node as in PostgreSQL.
      [`${'\u{1F600}'.repeat(1000)}`]: true,
      [`${'\u{1F601}'.repeat(1001)}`]: false,
    };
    for (const handle of Object.keys(handles)) await db.query(`insert into account (handle) values ($1)`, [handle]);
    for (const [handle, accepted] of Object.entries(handles)) {
      const label = JSON.stringify(handle.slice(0, 20));
      expect(isUserIdText(handle), label).toBe(accepted);
      const intake = (await db.query(`select outcome, request_id from exporter_request_export($1::text)`, [handle]))
        .rows[0];
      expect(intake.outcome, label).toBe(accepted ? 'created' : 'no-such-user');
      if (!accepted) {
        await expect(
          db.query(`insert into data_export_requests (user_id) values ($1)`, [handle]),
          label,
        ).rejects.toThrow(/data_export_requests_user_id_canonical/);
        expect((await runCli(['request', handle], withDefinition)).code, label).toBe(2);
      }
    }
    // Every request the database took, the worker builds.
    const built = await runCli(['fulfill'], withDefinition);
    expect(built.code, built.stderr).toBe(0);
    const { rows } = await db.query(`select status, count(*)::int as n from data_export_requests group by status`);
    expect(rows).toEqual([{ status: 'ready', n: Object.values(handles).filter(Boolean).length }]);
  });

  it('a text user id that would break out of a string literal where standard_conforming_strings is off is a user id like any other', async () => {
    const { db, url, cliEnv } = await freshDatabase();
    await db.query(`create table member (handle text primary key, bio text)`);
    const definition = path.join(dir, 'member.yaml');
    writeFileSync(
      definition,
      `version: 1
user_table: member
entities:
  member:
    description: You.
    owner: { column: handle }
    order_by: [handle]
    columns:
      handle: { export: Your handle. }
      bio: { export: Your bio. }
`,
    );
    const withDefinition = { ...cliEnv, EXPORT_DEFINITION: definition };
    expect((await runCli(['migrate'], withDefinition)).code).toBe(0);
    // Under standard_conforming_strings off, a backslash escapes the quote after it in '…': this id would end the literal and run the rest.
    const hostile = String.raw`x\'); create table pwned as select current_user as who; --`;
    await db.query(`insert into member (handle, bio) values ($1, 'MINE'), ('other', 'NOT-MINE')`, [hostile]);
    await db.query(`alter database ${new URL(url).pathname.slice(1)} set standard_conforming_strings = off`);
    const { rows } = await db.query(`select request_id from exporter_request_export($1::text)`, [hostile]);
    const built = await runCli(['fulfill', '--request', rows[0].request_id], withDefinition);
    expect(built.code, built.stderr).toBe(0);
    const row = await requestOf(db, rows[0].request_id);
    expect(row.status).toBe('ready');
    const files = await readZip(await getObject(env, row.object_key));
    expect(JSON.parse(files.get('json/member.json')!.toString())).toEqual([{ handle: hostile, bio: 'MINE' }]);
    expect((await db.query(`select to_regclass('pwned') as t`)).rows[0].t).toBeNull();
  });
});
