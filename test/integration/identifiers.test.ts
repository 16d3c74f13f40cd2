import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/definition/parse.ts';
import { FreshDatabases } from '../support/fresh-database.ts';
import { createTestEnv, getObject, runCli, type TestEnv } from '../support/harness.ts';
import { readZip } from '../support/zip.ts';

/*
 * Names and shapes an ORM or a long-lived schema has, in init, check and
 * fulfill: a user table in its own schema with a quoted camelCase key
 * (Prisma's habit), a same-named table in another schema whose rows are no
 * one's here, columns named with capitals, spaces, Unicode and reserved
 * words, one whose name holds a line break and YAML (it must stay a name),
 * a partitioned table (exported once, by its parent), a composite foreign
 * key, a relation no foreign key declares, a view, and a password hash in a
 * column whose name says nothing (found by its values).
 */
let env: TestEnv;
let databases: FreshDatabases;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
  dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-identifiers-'));
});
afterAll(async () => {
  await databases?.close();
  rmSync(dir, { recursive: true, force: true });
  await env?.close();
});

const ADA = '0a0a0a0a-0000-4000-8000-00000000000a';
const BOB = '0b0b0b0b-0000-4000-8000-00000000000b';
const HASH = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$SECRETHASHSECRETHASHSECRETHASHSECRETHA';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTRUNSRVRKV1QifQ.SECRETJWTSIGNATURE';
const EVIL = 'evil\nleft_out:\n  "app"."Account": injected';

const SCHEMA = `
  create schema app;
  create schema legacy;
  create table app."Account" ("accountId" uuid primary key, "displayName" text not null, "Legacy Blob" text, settings jsonb);
  create table legacy.users (id uuid primary key, note text);
  create table legacy.notes (id serial primary key, user_id uuid references legacy.users (id), body text);
  create table app."Post" ("postId" serial primary key, "authorId" uuid not null references app."Account" ("accountId"), "order" int not null, "naïve" text, "Weird Name" text, ${quote(EVIL)} text);
  create table app.visits (visited_at timestamptz not null, "accountId" uuid not null references app."Account" ("accountId"), page text) partition by range (visited_at);
  create table app.visits_2026 partition of app.visits for values from ('2026-01-01') to ('2027-01-01');
  create table app.visits_2027 partition of app.visits for values from ('2027-01-01') to ('2028-01-01');
  create table app.orders (account uuid not null references app."Account" ("accountId"), order_no int not null, total int, primary key (account, order_no));
  create table app.order_lines (account uuid not null, order_no int not null, line int not null, item text, primary key (account, order_no, line), foreign key (account, order_no) references app.orders (account, order_no));
  create table app.bookmarks (id serial primary key, user_id uuid not null, url text);
  create view app.post_view as select * from app."Post";
`;

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function seed(db: import('pg').Pool) {
  for (const [id, who] of [
    [ADA, 'ADA'],
    [BOB, 'BOB'],
  ] as const) {
    await db.query(`insert into app."Account" values ($1, $2, $3, $4)`, [
      id,
      `${who}-NAME`,
      who === 'ADA' ? HASH : HASH.replace('SECRETHASH', 'SECRETHASB'),
      // A session token inside the settings' JSON: found by its shape, the key named for nothing secret.
      JSON.stringify({ theme: `${who}-THEME`, app_session: `${JWT}${who}` }),
    ]);
    await db.query(`insert into legacy.users values ($1, $2)`, [id, `${who}-LEGACY-USER`]);
    await db.query(`insert into legacy.notes (user_id, body) values ($1, $2)`, [id, `${who}-LEGACY-NOTE`]);
    await db.query(
      `insert into app."Post" ("authorId", "order", "naïve", "Weird Name", ${quote(EVIL)}) values ($1, 1, $2, $3, $4)`,
      [id, `${who}-NAIVE`, `${who}-WEIRD`, `${who}-EVIL`],
    );
    await db.query(`insert into app.visits values ('2026-06-01', $1, $2), ('2027-06-01', $1, $3)`, [
      id,
      `${who}-VISIT-2026`,
      `${who}-VISIT-2027`,
    ]);
    await db.query(`insert into app.orders values ($1, 1, 10)`, [id]);
    await db.query(`insert into app.order_lines values ($1, 1, 1, $2)`, [id, `${who}-ORDER-LINE`]);
    await db.query(`insert into app.bookmarks (user_id, url) values ($1, $2)`, [id, `https://${who}-BOOKMARK.example`]);
  }
}

describe('any identifier, any schema', () => {
  it('init drafts them, check agrees, and fulfill builds the person’s archive: each row once, no one else’s, no credential', async () => {
    const { db, cliEnv } = await databases.create();
    await db.query(SCHEMA);
    await seed(db);
    const file = path.join(dir, 'draft.yaml');
    const init = await runCli(['init', '--user-table', 'app."Account"', '--out', file], cliEnv);
    expect(init.code, init.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    const definition = parseDefinition(text, file);

    // The name with a line break stays one column's name: nothing injected into the YAML.
    expect(definition.leftOut).not.toHaveProperty(['"app"."Account"']);
    expect(definition.entities.find((e) => e.table === 'app.Post')!.columns.map((c) => c.name)).toEqual([
      'postId',
      'authorId',
      'order',
      'naïve',
      'Weird Name',
      EVIL,
    ]);
    const how = Object.fromEntries(
      definition.entities.map((e) => [
        e.table,
        e.owner
          ? `owner ${e.owner.columns.join('+')}${e.owner.declared ? ' (declared)' : ''}`
          : `through ${e.through!.entity}.${e.through!.columns.join('+')}`,
      ]),
    );
    expect(how).toEqual({
      'app.Account': 'owner accountId',
      'app.Post': 'owner authorId',
      'app.visits': 'owner accountId',
      'app.orders': 'owner account',
      'app.order_lines': 'through orders.account+order_no',
      'app.bookmarks': 'owner user_id (declared)',
    });
    // The hash in a column whose name says nothing is found by its values and omitted.
    expect(definition.entities[0]!.columns.find((c) => c.name === 'settings')).toMatchObject({
      omit: expect.stringMatching(/JSON holds what looks like a credential/),
    });
    expect(text).toMatch(/settings: \{ omit: .* \} # TODO: a key or a text in it looks like a credential/);
    expect(definition.entities[0]!.columns.find((c) => c.name === 'Legacy Blob')).toMatchObject({
      omit: expect.stringMatching(/password hash/),
    });

    const withDraft = { ...cliEnv, EXPORT_DEFINITION: file };
    expect((await runCli(['migrate'], withDraft)).code).toBe(0);
    const check = await runCli(['check'], withDraft);
    expect(check.code, check.stderr).toBe(0);
    const requested = await runCli(['request', ADA, '--json'], withDraft);
    expect(requested.code, requested.stderr).toBe(0);
    const request = JSON.parse(requested.stdout).id as string;
    const built = await runCli(['fulfill', '--request', request], withDraft);
    expect(built.code, built.stderr).toBe(0);
    const key = (await db.query('select object_key from data_export_requests where id = $1', [request])).rows[0]
      .object_key;
    const files = await readZip(await getObject(env, key));
    const everything = [...files.values()].map((b) => b.toString()).join('\n');
    for (const mine of ['ADA-NAME', 'ADA-NAIVE', 'ADA-WEIRD', 'ADA-EVIL', 'ADA-ORDER-LINE', 'ADA-BOOKMARK'])
      expect(everything).toContain(mine);
    // A partitioned table's rows once each: in its JSON and its CSV (the viewer's data is sealed), never again by a partition.
    for (const visit of ['ADA-VISIT-2026', 'ADA-VISIT-2027']) expect(everything.split(visit).length - 1, visit).toBe(2);
    for (const notMine of ['BOB-', 'LEGACY', 'SECRETHASH', 'SECRETJWT']) expect(everything).not.toContain(notMine);
    // README.txt names the column with the line break on one line, its breaks escaped.
    expect(files.get('README.txt')!.toString()).toContain(`\n  - ${EVIL.replaceAll('\n', '\\n')}: `);
    expect([...files.keys()].filter((name) => name.startsWith('json/')).sort()).toEqual([
      'json/account.json',
      'json/bookmarks.json',
      'json/order_lines.json',
      'json/orders.json',
      'json/post.json',
      'json/visits.json',
    ]);
  });

  it('check refuses a hand-written definition that exports a password hash, whatever the column is called', async () => {
    const { db, cliEnv } = await databases.create();
    await db.query(SCHEMA);
    await seed(db);
    const file = path.join(dir, 'hand.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'user_table: app."Account"',
        'entities:',
        '  account:',
        '    table: app."Account"',
        '    description: Your account.',
        '    owner: { column: accountId }',
        '    order_by: [ accountId ]',
        '    columns:',
        '      accountId: { export: Your id. }',
        '      displayName: { export: Your name. }',
        '      Legacy Blob: { export: An old field. }',
        '      settings: { export: Your settings. }',
        'left_out:',
        '  app."Post": not needed',
        '  app.visits: not needed',
        '  app.orders: not needed',
        '',
      ].join('\n'),
    );
    const withHand = { ...cliEnv, EXPORT_DEFINITION: file };
    expect((await runCli(['migrate'], withHand)).code).toBe(0);
    const check = await runCli(['check'], withHand);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/Legacy Blob.*password hash/);
    expect(check.stderr).toMatch(
      /\.settings: its JSON holds keys or texts that look like credentials, and it is exported/,
    );
  });

  it('row-level security that applies to the exporter’s role: check and fulfill refuse (exit 2), naming the table; an archive never silently lacks the rows a policy hides', async () => {
    const { db, url, cliEnv } = await databases.create();
    await db.query(SCHEMA);
    await seed(db);
    const file = path.join(dir, 'rls.yaml');
    expect((await runCli(['init', '--user-table', 'app."Account"', '--out', file], cliEnv)).code).toBe(0);
    const withDraft = { ...cliEnv, EXPORT_DEFINITION: file };
    expect((await runCli(['migrate'], withDraft)).code).toBe(0);
    const requested = await runCli(['request', ADA, '--json'], withDraft);
    const request = JSON.parse(requested.stdout).id as string;
    // Supabase's habit: row-level security on, a policy for the signed-in user; the exporter connects as a role it applies to.
    const role = `exporter_rls_${request.slice(0, 8)}`;
    await db.query(`create role ${role}`);
    await db.query(
      `grant usage on schema app to ${role}; grant select, insert, update, delete on all tables in schema app, public to ${role}; grant usage on all sequences in schema public to ${role}; grant execute on all functions in schema public to ${role}`,
    );
    await db.query(
      `alter table app.bookmarks enable row level security; create policy own on app.bookmarks using (user_id::text = current_setting('app.user', true))`,
    );
    const asRole = new URL(url);
    asRole.searchParams.set('options', `-c role=${role}`);
    const restricted = { ...withDraft, DATABASE_URL: asRole.toString() };
    const check = await runCli(['check'], restricted);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`app.bookmarks: row-level security applies to the exporter's role (${role})`);
    const fulfill = await runCli(['fulfill', '--request', request], restricted);
    expect(fulfill.code).toBe(2);
    expect((await db.query('select status from data_export_requests where id = $1', [request])).rows[0].status).toBe(
      'pending',
    );
    // As the owner (the test's superuser) the policies do not apply: check passes.
    expect((await runCli(['check'], withDraft)).code).toBe(0);
  });
});
