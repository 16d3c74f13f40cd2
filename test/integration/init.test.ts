import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/definition/parse.ts';
import { secretLookingName } from '../../src/definition/secrets.ts';
import { FreshDatabases } from '../support/fresh-database.ts';
import { archiveOf, createTestEnv, runCli, type TestEnv } from '../support/harness.ts';

/*
 * `exporter init` on two applications that are not ours (test/fixtures/
 * foreign/: a link aggregator modeled on Lemmy, a newsletter manager
 * modeled on listmonk), both with integer user keys: the draft names every
 * table that belongs to a user, exports no secret, passes `exporter check`
 * unedited, makes `check --strict` name each TODO by its line, and builds
 * an archive of the person's data and no one else's.
 */
let env: TestEnv;
let databases: FreshDatabases;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
  dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-init-'));
});
afterAll(async () => {
  await databases?.close();
  rmSync(dir, { recursive: true, force: true });
  await env?.close();
});

const fixture = (name: string) => readFileSync(new URL(`../fixtures/foreign/${name}.sql`, import.meta.url), 'utf8');

/** A database holding `schema`, its draft (written by the CLI to a file) and the draft as parsed. */
async function drafted(schema: string, userTable: string) {
  const fresh = await databases.create();
  await fresh.db.query(fixture(schema));
  const file = path.join(dir, `${schema}-${randomUUID().slice(0, 8)}.yaml`);
  const init = await runCli(['init', '--user-table', userTable, '--out', file], fresh.cliEnv);
  expect(init.code, init.stderr).toBe(0);
  const text = readFileSync(file, 'utf8');
  const withDraft = { ...fresh.cliEnv, EXPORT_DEFINITION: file };
  const migrated = await runCli(['migrate'], withDraft);
  expect(migrated.code, migrated.stderr).toBe(0);
  return { ...fresh, file, text, definition: parseDefinition(text, file), withDraft };
}

/** check passes; check --strict fails (exit 2) and names exactly the lines that say TODO. */
async function expectChecks(d: Awaited<ReturnType<typeof drafted>>) {
  const check = await runCli(['check'], d.withDraft);
  expect(check.code, check.stderr).toBe(0);
  const strict = await runCli(['check', '--strict', '--json'], d.withDraft);
  expect(strict.code).toBe(2);
  const todoLines = d.text.split('\n').flatMap((line, i) => (line.includes('TODO') ? [i + 1] : []));
  expect(todoLines.length).toBeGreaterThan(0);
  expect(
    JSON.parse(strict.stdout).problems.map((p: string) => Number(p.slice(d.file.length + 1).split(':')[0])),
  ).toEqual(todoLines);
  // Once every TODO is decided (here: the word deleted), --strict passes.
  const decided = path.join(dir, `decided-${path.basename(d.file)}`);
  writeFileSync(decided, d.text.replaceAll('TODO', 'decided'));
  const passes = await runCli(['check', '--strict'], { ...d.withDraft, EXPORT_DEFINITION: decided });
  expect(passes.code, passes.stderr).toBe(0);
}

/** How each entity's rows are the user's, in one word and its columns. */
const howOf = (d: Awaited<ReturnType<typeof drafted>>) =>
  Object.fromEntries(
    d.definition.entities.map((e) => [
      e.table,
      e.owner
        ? `owner ${e.owner.columns.join('+')}`
        : e.members
          ? `members ${e.members.table}`
          : `through ${e.through!.entity}.${e.through!.columns.join('+')}`,
    ]),
  );

/** Every exported column of every entity, as table.column. */
const exported = (d: Awaited<ReturnType<typeof drafted>>) =>
  d.definition.entities.flatMap((e) =>
    e.columns.filter((c) => c.export !== undefined && c.derived === undefined).map((c) => `${e.table}.${c.name}`),
  );

describe('exporter init on a link aggregator (users in person, integer keys)', () => {
  it('drafts every table that is a person’s, by the right path, with no secret and every guess marked', async () => {
    const d = await drafted('community', 'person');
    expect(howOf(d)).toEqual({
      person: 'owner id',
      local_user: 'owner person_id',
      post: 'owner creator_id',
      comment: 'owner creator_id',
      comment_like: 'owner person_id',
      community_moderator: 'owner person_id',
      person_mention: 'owner recipient_id',
      // A message: its sender and its recipient. A block, a ban: the one who made the row (the side that cannot leak), with a TODO.
      private_message: 'owner creator_id+recipient_id',
      person_block: 'owner person_id',
      community: 'members community_follower',
      image_upload: 'through local_user.local_user_id',
      local_user_language: 'through local_user.local_user_id',
      // The applicant's, through their login; not the reviewing admin's (a TODO says so).
      registration_application: 'through local_user.local_user_id',
    });
    expect(d.text).toMatch(
      /person_block:\n.*\n {4}# TODO: "target_id" also names a user; a row is exported only when "person_id" is the user.*\n {4}owner: \{ column: person_id \}/,
    );
    expect(d.text).toMatch(
      /registration_application:\n.*\n {4}# TODO: "admin_id" also names a user; its rows are exported through local_user.*\n {4}through: /,
    );
    // Login data is left out, with a TODO; tables of no one (instance, site, language) are not named at all.
    // A moderator's ban names two users, neither as the one whose row it is (the moderator acted, the other was banned): left out, with a TODO.
    expect(Object.keys(d.definition.leftOut).sort()).toEqual([
      'email_verification',
      'login_token',
      'mod_ban',
      'password_reset_request',
    ]);
    expect(d.text).toMatch(/^ {2}login_token: .* # TODO/m);
    // Private: the secrets are omitted; what only looks secret (a public key, a yes-or-no setting) is exported, and says why.
    expect(
      exported(d)
        .filter((c) => secretLookingName(c.split('.')[1]!))
        .sort(),
    ).toEqual(['community.public_key', 'local_user.totp_2fa_enabled', 'person.public_key']);
    for (const secret of [
      'local_user.password_encrypted',
      'local_user.totp_2fa_secret',
      'person.private_key',
      'image_upload.pictrs_delete_token',
    ]) {
      expect(exported(d)).not.toContain(secret);
    }
    // A file's key: omitted, with a commented-out files: block to complete.
    expect(d.text).toMatch(/pictrs_alias: \{ omit: .* # TODO/);
    expect(d.text).toMatch(
      /# {3}"pictrs_alias_file":\n {6}# {5}source: uploads\n {6}# {5}key: "pictrs_alias"\n {6}# {5}key_prefix: "TODO\/\{local_user_id\}\/"/,
    );
    expect(d.text).toMatch(
      /totp_2fa_enabled: \{ export: .*, not_secret: "a yes-or-no setting, not the secret it names" \}/,
    );
    expect(d.text).toMatch(
      /private_message:\n.*\n {4}# A row is the user's when they sent it or it was sent to them \("creator_id", "recipient_id"\)\.\n {4}owner: \{ columns: \[ creator_id, recipient_id \] \}/,
    );
    await expectChecks(d);
  });

  it('the unedited draft builds the archive of one person: their messages both ways, nobody else’s, no secret', async () => {
    const d = await drafted('community', 'person');
    await d.db.query(`
      insert into instance (domain) values ('example.test');
      insert into person (name, actor_id, instance_id, private_key, bio) values
        ('ada', 'https://example.test/u/ada', 1, 'SECRET-PRIVATE-KEY-1', 'Ada bio'),
        ('bob', 'https://example.test/u/bob', 1, 'SECRET-PRIVATE-KEY-2', 'BOB-BIO'),
        ('cy', 'https://example.test/u/cy', 1, null, 'CY-BIO');
      update person set invited_by = 2 where id = 1;
      update person set invited_by = 1 where id = 3;
      insert into local_user (person_id, password_encrypted, email, totp_2fa_secret) values
        (1, 'SECRET-HASH-1', 'ada@example.test', 'SECRET-TOTP-1'), (2, 'SECRET-HASH-2', 'bob@example.test', null);
      insert into login_token (token, user_id) values ('SECRET-TOKEN-1', 1);
      insert into image_upload (local_user_id, pictrs_alias, pictrs_delete_token) values (1, 'ada-upload.png', 'SECRET-DELETE-1');
      insert into community (name, title, instance_id, private_key) values ('rust', 'Rust', 1, 'SECRET-COMMUNITY-KEY');
      insert into community_follower (community_id, person_id) values (1, 1);
      insert into post (name, creator_id, community_id) values ('Ada posts', 1, 1), ('BOB-POST', 2, 1);
      insert into private_message (creator_id, recipient_id, content) values
        (2, 1, 'bob to ada'), (1, 2, 'ada to bob'), (2, 3, 'BOB-TO-CY');
      insert into person_block (person_id, target_id) values (1, 3), (3, 1);
      insert into registration_application (local_user_id, answer, admin_id) values (1, 'I like Rust', 2), (2, 'BOB-APPLICATION', 1);
      insert into mod_ban (mod_person_id, other_person_id, reason) values (2, 1, 'BAN-OF-ADA-BY-BOB');`);
    const created = await runCli(['request', '1', '--json'], d.withDraft);
    expect(created.code, created.stderr).toBe(0);
    const nightly = await runCli(['nightly'], d.withDraft);
    expect(nightly.code, nightly.stderr).toBe(0);
    const { json, files, text: everything } = await archiveOf(env, JSON.parse(created.stdout).id, d.db);
    // Who invited her is a number in her row; neither Bob's row nor the person she invited is followed.
    expect(json('person')).toEqual([expect.objectContaining({ name: 'ada', invited_by: 2 })]);
    // Her own block, not Cy's block of her; her application, not Bob's that she reviewed; not Bob's ban of her (his row).
    expect(json('person_block')).toEqual([expect.objectContaining({ person_id: 1, target_id: 3 })]);
    expect(json('registration_application').map((a) => a.answer)).toEqual(['I like Rust']);
    expect(files.has('json/mod_ban.json')).toBe(false);
    expect(
      json('private_message')
        .map((m) => m.content)
        .sort(),
    ).toEqual(['ada to bob', 'bob to ada']);
    expect(json('post').map((p) => p.name)).toEqual(['Ada posts']);
    expect(json('community').map((c) => c.name)).toEqual(['rust']);
    expect(json('image_upload')).toEqual([expect.objectContaining({ local_user_id: 1 })]);
    for (const notHers of [
      'SECRET',
      'BOB-BIO',
      'CY-BIO',
      'BOB-POST',
      'BOB-TO-CY',
      'bob@example.test',
      'BOB-APPLICATION',
      'BAN-OF-ADA-BY-BOB',
    ])
      expect(everything).not.toContain(notHers);
  });
});

describe('exporter init on a newsletter manager (people are subscribers, integer keys)', () => {
  it('drafts subscribers, their lists through the membership table, their views and clicks, nothing shared with other subscribers, and check agrees', async () => {
    const d = await drafted('newsletter', 'subscribers');
    expect(howOf(d)).toEqual({
      subscribers: 'owner id',
      campaign_views: 'owner subscriber_id',
      link_clicks: 'owner subscriber_id',
      lists: 'members subscriber_lists',
    });
    // What hangs off a list the subscriber shares with everyone on it is left out by default, with a TODO.
    expect(Object.keys(d.definition.leftOut)).toEqual(['campaign_lists']);
    expect(d.text).toMatch(
      /^ {2}campaign_lists: "left out by default: it references lists, whose rows the user shares with other people \(subscriber_lists\).*# TODO/m,
    );
    expect(d.definition.userEmail).toBe('email');
    // No primary key: ordered by every column that can be, and said.
    expect(d.text).toMatch(/order_by: \[ campaign_id, subscriber_id, created_at \] # TODO: no primary key/);
    expect(exported(d).filter((c) => secretLookingName(c.split('.')[1]!))).toEqual([]);
    await expectChecks(d);

    await d.db.query(`
      insert into subscribers (uuid, email, name, attribs) values
        (gen_random_uuid(), 'ann@example.test', 'Ann', '{"city": "Oslo"}'), (gen_random_uuid(), 'ben@example.test', 'BEN-NAME', '{}');
      insert into lists (uuid, name, type) values (gen_random_uuid(), 'Weekly', 'public'), (gen_random_uuid(), 'BEN-ONLY-LIST', 'private');
      insert into subscriber_lists (subscriber_id, list_id) values (1, 1), (2, 1), (2, 2);
      insert into templates (name, body) values ('t', 'b');
      insert into campaigns (uuid, name, subject, from_email, body) values (gen_random_uuid(), 'c', 's', 'f@example.test', 'b');
      insert into campaign_views (campaign_id, subscriber_id) values (1, 1), (1, 2), (1, 2);`);
    const created = await runCli(['request', '1', '--json'], d.withDraft);
    expect(created.code, created.stderr).toBe(0);
    const fulfilled = await runCli(['fulfill', '--request', JSON.parse(created.stdout).id], d.withDraft);
    expect(fulfilled.code, fulfilled.stderr).toBe(0);
    const { json, text: everything } = await archiveOf(env, JSON.parse(created.stdout).id, d.db);
    expect(json('subscribers')).toEqual([
      expect.objectContaining({ email: 'ann@example.test', attribs: { city: 'Oslo' } }),
    ]);
    expect(json('lists').map((l) => l.name)).toEqual(['Weekly']);
    expect(json('campaign_views')).toHaveLength(1);
    for (const notHers of ['BEN-NAME', 'BEN-ONLY-LIST', 'ben@example.test']) expect(everything).not.toContain(notHers);
  });
});

describe('exporter init refuses what it cannot draft', () => {
  it('a user table that does not exist, or has no one-column key: exit 2, one line naming it; --out never overwrites', async () => {
    const fresh = await databases.create();
    await fresh.db.query('create table accounts (region text, n int, primary key (region, n))');
    const missing = await runCli(['init', '--user-table', 'people'], fresh.cliEnv);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      2,
      'exporter: --user-table: no table named "people" (name it as schema.table where it is not on the search path: public)',
    ]);
    const composite = await runCli(['init', '--user-table', 'accounts'], fresh.cliEnv);
    expect([composite.code, composite.stderr.trim()]).toEqual([
      2,
      'exporter: --user-table: accounts has no one-column primary key: a request names a user by one column; add one, or a unique column, and name it with --user-key',
    ]);
    const out = path.join(dir, 'exists.yaml');
    await fresh.db.query('create table members (id int primary key)');
    expect((await runCli(['init', '--user-table', 'members', '--out', out], fresh.cliEnv)).code).toBe(0);
    const again = await runCli(['init', '--user-table', 'members', '--out', out], fresh.cliEnv);
    expect([again.code, again.stderr]).toEqual([
      2,
      expect.stringMatching(/--out: .*exists\.yaml already exists; init never overwrites a file/),
    ]);
  });
});
