import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { connect } from '../../src/db/connect.ts';
import { checkedDefinition } from '../../src/definition/checked-definition.ts';
import { quoteIdent } from '../../src/model/identifiers.ts';
import { FreshDatabases } from '../support/fresh-database.ts';
import { archiveOf, createTestEnv, listKeys, runCli, type TestEnv } from '../support/harness.ts';
import { scenario as documenso } from '../support/published-scenarios/documenso.ts';
import type { Scenario } from '../support/published-scenarios/scenario.ts';
import { scenario as supabase } from '../support/published-scenarios/supabase.ts';
import { loadPublishedSchema } from '../support/published-schemas.ts';
import { insertRow } from '../support/seed-rows.ts';

/*
 * The right to erasure on real applications' published schemas
 * (test/fixtures/schemas/<app>/, loaded verbatim, seeded by the scenarios of
 * published-schemas.test.ts), with the erase rules of their decided.yaml:
 * a dry run changes no row of any table; the erasure, carried out by
 * nightly, is done; the person's export finds nothing but what a keep rule
 * keeps; every other user's archive, rebuilt, holds the same records as
 * before, the erased person's id where a rule ghosts it aside; the tables of
 * kept entities, and those holding other people's rows (a signature), are as
 * they were; the exporter's bucket lost the person's archive and nothing
 * else. Neither decided.yaml binds files in an application bucket
 * (file_sources: none), so no application object is there to delete.
 */
interface App {
  scenario: Scenario;
  /** Rows the scenario does not seed that the rules reach (relations without foreign keys, links of links). */
  more(db: pg.Pool, person: string): Promise<void>;
  /** Tables no rule names whose rows are other people's, and must stay (a signer's signature on her document). */
  untouched: string[];
}

const FIXTURES = new URL('../fixtures/schemas/', import.meta.url).pathname;

const APPS: App[] = [
  {
    scenario: supabase,
    untouched: ['public.products', 'public.prices', 'auth.sso_providers'],
    async more(db, person) {
      // Sign-in flows (user_id names the person with no foreign key), one with a SAML relay state hanging from it.
      const provider = await insertRow(db, 'auth.sso_providers', { id: randomUUID() });
      const { rows } = await db.query<{ id: string }>('select id from auth.users order by email');
      for (const { id } of rows) {
        const flow = await insertRow(db, 'auth.flow_state', {
          id: randomUUID(),
          user_id: id,
          provider_type: 'sso/saml',
          authentication_method: 'sso/saml',
        });
        await insertRow(db, 'auth.saml_relay_states', {
          id: randomUUID(),
          sso_provider_id: provider.id,
          request_id: `request-${id}`,
          for_email: id === person ? 'ada@example.test' : 'bob@example.test',
          flow_state_id: flow.id,
        });
      }
    },
  },
  {
    scenario: documenso,
    untouched: ['"Recipient"', '"Signature"', '"DocumentShareLink"', '"OrganisationMemberInvite"'],
    async more(db, person) {
      // Her template with a direct link anyone may sign through; a call to each person's webhook.
      const team = (await db.query(`select "teamId" from "Envelope" where "userId" = $1`, [Number(person)])).rows[0];
      const meta = await insertRow(db, '"DocumentMeta"', { id: randomUUID() });
      const template = await insertRow(db, '"Envelope"', {
        id: randomUUID(),
        secondaryId: `template_${randomUUID()}`,
        type: 'TEMPLATE',
        title: 'ADA-TEMPLATE-TITLE',
        source: 'DOCUMENT',
        internalVersion: 2,
        userId: Number(person),
        teamId: team.teamId,
        documentMetaId: meta.id,
        signatureLevel: 'SES',
      });
      await insertRow(db, '"TemplateDirectLink"', { id: randomUUID(), envelopeId: template.id, enabled: true });
      for (const { id } of (await db.query(`select id from "Webhook"`)).rows)
        await insertRow(db, '"WebhookCall"', { id: randomUUID(), webhookId: id, url: 'https://example.test/hook' });
    },
  },
];

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

/** Every table of the application (not the exporter's own): a checksum of all its rows, by its name as regclass writes it. */
async function checksums(db: pg.Pool): Promise<Map<string, string>> {
  const { rows: tables } = await db.query<{ name: string }>(
    `select format('%I.%I', schemaname, tablename)::regclass::text as name from pg_tables
      where schemaname not in ('pg_catalog', 'information_schema') and tablename not like 'data\\_export\\_%'
      order by 1`,
  );
  const sums = new Map<string, string>();
  for (const { name } of tables) {
    const { rows } = await db.query(
      `select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as sum from ${name} t`,
    );
    sums.set(name, rows[0].sum);
  }
  return sums;
}

/** The application's tables (not the exporter's own) with a row whose text holds `needle`. */
async function tablesHolding(db: pg.Pool, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const table of (await checksums(db)).keys()) {
    const { rows } = await db.query(`select exists (select 1 from ${table} t where strpos(t::text, $1) > 0) as yes`, [
      needle,
    ]);
    if (rows[0].yes) found.push(table);
  }
  return found;
}

type Records = Map<string, Record<string, unknown>[]>;

/** Builds the requests' archives (one fulfill) and reads each entity's records back (its json/ entries), parsed. */
async function build(requests: string[], db: pg.Pool, cliEnv: Record<string, string>): Promise<Records[]> {
  const built = await runCli(['fulfill', '--request', ...requests], cliEnv);
  expect(built.code, built.stderr).toBe(0);
  return Promise.all(
    requests.map(async (id) => {
      const records: Records = new Map();
      for (const [name, bytes] of (await archiveOf(env, id, db)).files)
        if (name.startsWith('json/'))
          records.set(name.slice('json/'.length, -'.json'.length), JSON.parse(String(bytes)));
      return records;
    }),
  );
}

async function request(user: string, cliEnv: Record<string, string>): Promise<string> {
  const requested = await runCli(['request', user, '--json'], cliEnv);
  expect(requested.code, requested.stderr).toBe(0);
  return JSON.parse(requested.stdout).id;
}

/**
 * An archive's records as they must read once `person` is erased, as the
 * decided rules say (read from decided.yaml, not from the exporter's plan):
 * where an anonymize rule puts the ghost's key or null in a column, the
 * person's id there becomes that.
 */
function asErased(records: Records, definition: string, person: string, ghost: string | undefined): Records {
  const doc = parse(readFileSync(definition, 'utf8'));
  const rules = doc.entities as Record<string, { erase?: { anonymize?: Record<string, unknown> } }>;
  const out: Records = new Map();
  for (const [entity, rows] of records) {
    const changed = Object.entries(rules[entity]?.erase?.anonymize ?? {}).filter(
      ([, s]) => s === 'ghost' || s === null,
    );
    const erased = (column: string, was: unknown) => {
      const to = changed.find(([c]) => c === column);
      if (!to || String(was) !== person) return was;
      // The ghost's key as the archive writes the person's (a number where theirs was one).
      return to[1] === null ? null : typeof was === 'number' ? Number(ghost) : ghost;
    };
    out.set(
      entity,
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, erased(k, v)]))),
    );
  }
  return out;
}

describe.each(APPS.map((a) => [a.scenario.app, a] as const))('erasure on a published schema: %s', (app, a) => {
  it("a dry run changes nothing; then only the person's kept rows remain theirs, and no one else's archive, row or object changes", async () => {
    const started = performance.now();
    const { db, url, cliEnv } = await databases.create();
    await loadPublishedSchema(url, app);
    const { person } = await a.scenario.seed(db);
    await a.more(db, person);
    const definition = `${FIXTURES}${app}/decided.yaml`;
    const withDecided = { ...cliEnv, EXPORT_DEFINITION: definition };
    // (check --strict holds these rules to the schema: published-schemas.test.ts.)
    expect((await runCli(['migrate'], withDecided)).code).toBe(0);
    const handle = connect({ url, maxConnections: 2 });
    const { entities, erasure, user } = await checkedDefinition(handle.db, definition).finally(() => handle.close());
    expect(erasure, 'every entity has an erase rule').toBeDefined();
    const plan = erasure!;
    const ghost = plan.ghostUser;
    /** The person's rows as their export's query finds them, entity by entity (as JSON text). */
    const theirs = async () => {
      const found = new Map<string, string[]>();
      for (const e of entities) {
        const sql = `select row_to_json(t)::text as r from ${e.from.replaceAll(':user', '($1)')} order by 1`;
        found.set(
          e.name,
          (await db.query(sql, [person])).rows.map((r) => r.r),
        );
      }
      return found;
    };
    const theirsBefore = await theirs();
    // What names the person anywhere, to look for after: their email, and their key where it is not a bare number.
    const email = user.emailColumn
      ? (
          await db.query(
            `select ${quoteIdent(user.emailColumn)} as e from ${user.table} where ${quoteIdent(user.idColumn)}::text = $1`,
            [person],
          )
        ).rows[0].e
      : undefined;
    const needles = [email, /^\d+$/.test(person) ? undefined : person].filter((n): n is string => Boolean(n));
    expect(needles.length).toBeGreaterThan(0);

    // Every user's archive (the ghost's aside: it gains what stays for others), built before.
    const users = (await db.query(`select ${quoteIdent(user.idColumn)}::text as id from ${user.table} order by 1`)).rows
      .map((r) => r.id as string)
      .filter((id) => id !== ghost);
    const others = users.filter((id) => id !== person);
    expect(others.length).toBeGreaterThan(0);
    const requests = new Map<string, string>();
    for (const id of users) requests.set(id, await request(id, withDecided));
    const before = await build([...requests.values()], db, withDecided);
    const archiveBefore = (id: string) => before[users.indexOf(id)]!;
    const personsArchive = (await archiveOf(env, requests.get(person)!, db)).row.object_key as string;

    // A dry run: the plan in counts, and not one row of any table changed.
    const sums = await checksums(db);
    const dry = await runCli(['erase', person, '--dry-run', '--json'], withDecided);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout).entities as { entity: string; rule: string; rows: number }[];
    expect(planned.filter((p) => p.rule === 'delete' && p.rows > 0).length).toBeGreaterThan(0);
    expect(await checksums(db)).toEqual(sums);

    // The erasure, carried out by nightly: done, its receipt the plan's counts.
    const objects = async () => (await listKeys(env)).filter((key) => !key.startsWith('exports/audit/'));
    const bucket = await objects();
    expect(bucket).toContain(personsArchive);
    const asked = await runCli(['erase', person, '--reason', 'asked by email, ticket 7', '--json'], withDecided);
    expect(asked.code, asked.stderr).toBe(0);
    const nightly = await runCli(['nightly'], withDecided);
    expect(nightly.code, nightly.stderr).toBe(0);
    const id = JSON.parse(asked.stdout).id;
    const erased = (await db.query('select status, error, receipt from data_export_erasures where id = $1', [id]))
      .rows[0];
    expect(erased, erased?.error).toMatchObject({ status: 'done' });
    for (const p of planned) {
      const count = { delete: 'deleted', anonymize: 'anonymized', keep: 'kept' }[p.rule]!;
      expect(erased.receipt.entities[p.entity].counts[count] ?? 0, `${p.entity}: ${count}`).toBe(p.rows);
    }

    // The person's export finds nothing but rows a keep rule keeps, as they were.
    const theirsAfter = await theirs();
    for (const e of plan.entities) {
      if (e.rule === 'keep')
        expect(theirsBefore.get(e.name), e.name).toEqual(expect.arrayContaining(theirsAfter.get(e.name)!));
      else expect(theirsAfter.get(e.name), `${e.name} (${e.rule}) still finds the person's rows`).toEqual([]);
    }
    // Kept entities' tables, and those of other people's rows, are as they were; the bucket lost her archive alone
    // (nightly anchors the audit trail in it too: exports/audit/<day>.json, the exporter's, no one's data).
    const after = await checksums(db);
    for (const table of [...plan.entities.filter((e) => e.rule === 'keep').map((e) => e.table), ...a.untouched]) {
      const name = (await db.query('select $1::regclass::text as name', [table])).rows[0].name;
      expect(sums.has(name), name).toBe(true);
      expect(after.get(name), name).toBe(sums.get(name));
    }
    expect(await objects()).toEqual(bucket.filter((key) => key !== personsArchive));
    // Nowhere in the database (the tables no rule names among them: sessions, tokens) is the person named, but in kept rows.
    const keptTables = new Set(
      await Promise.all(
        plan.entities
          .filter((e) => e.rule === 'keep')
          .map(async (e) => (await db.query('select $1::regclass::text as name', [e.table])).rows[0].name as string),
      ),
    );
    for (const needle of needles)
      expect(
        (await tablesHolding(db, needle)).filter((t) => !keptTables.has(t)),
        needle,
      ).toEqual([]);

    // Every other user's archive, rebuilt: the same records, the person's id moved to the ghost where a rule says so;
    // and the ghost's now holds each row of hers a rule ghosts (a document its recipients signed), the ghost named in
    // it. (Not as it was in every other column: one of hers that was deleted, a folder, is no longer named in it.)
    const ghosts = ghost === undefined ? [] : [await request(ghost, withDecided)];
    const rebuilt = await build([...others.map((o) => requests.get(o)!), ...ghosts], db, withDecided);
    for (const [i, other] of others.entries())
      expect(rebuilt[i], `user ${other}'s archive`).toEqual(asErased(archiveBefore(other), definition, person, ghost));
    const ghosted = plan.entities.filter((e) => e.columns.some((c) => c.strategy.kind === 'ghost'));
    for (const e of ghosted) {
      const key = entities.find((x) => x.name === e.name)!.key!;
      const moved = archiveBefore(person).get(e.name)!;
      expect(moved.length, e.name).toBeGreaterThan(0);
      const asGhost = (r: Record<string, unknown>) =>
        Object.fromEntries(
          e.columns
            .filter((c) => c.strategy.kind === 'ghost')
            .map((c) => [c.name, typeof r[c.name] === 'number' ? Number(ghost) : ghost]),
        );
      expect(rebuilt.at(-1)!.get(e.name), e.name).toEqual(
        expect.arrayContaining(moved.map((r) => expect.objectContaining({ [key]: r[key], ...asGhost(r) }))),
      );
    }
    console.log(`${app}: erasure proven in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
});

/** `app`'s decided definition with some entities' erase rules changed, written beside the test's other files. */
function decidedWith(app: string, rules: Record<string, unknown>): string {
  const doc = parseDocument(readFileSync(`${FIXTURES}${app}/decided.yaml`, 'utf8'));
  for (const [entity, rule] of Object.entries(rules)) doc.setIn(['entities', entity, 'erase'], rule);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'published-erasure-')), `${app}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

describe('erase rules other adopters would choose, on the same schemas', () => {
  it("documenso: deleting her documents is refused while other people's rows hang from them by ON DELETE CASCADE; the ghost user is never erased", async () => {
    const { db, url, cliEnv } = await databases.create();
    await loadPublishedSchema(url, 'documenso');
    const { person } = await documenso.seed(db);
    await APPS.find((x) => x.scenario.app === 'documenso')!.more(db, person);
    // Every envelope of hers deleted: Documenso's own foreign keys would take with them the recipients (the people
    // asked to sign), their signatures and the share links, other people's rows: check refuses it, naming each.
    const children = ['document_meta', 'envelope_attachment', 'envelope_item', 'document_data', 'field'];
    const rules = Object.fromEntries(['envelope', 'template_direct_link', ...children].map((e) => [e, 'delete']));
    const withRules = { ...cliEnv, EXPORT_DEFINITION: decidedWith('documenso', rules) };
    expect((await runCli(['migrate'], withRules)).code).toBe(0);
    const check = await runCli(['check', '--json'], withRules);
    expect(check.code).toBe(2);
    const problems = JSON.parse(check.stdout).problems as string[];
    for (const cascade of [/Recipient\.envelopeId \(ON DELETE CASCADE\)/, /Signature\.fieldId \(ON DELETE CASCADE\)/])
      expect(problems).toContainEqual(expect.stringMatching(cascade));

    // The decided rules (her envelopes moved to the ghost): the ghost (Documenso's deleted-account user, 2) has its dry
    // run and its request refused by the command; asked through the application's SQL intake (which does not know the
    // definition), its erasure fails for good; hers is done.
    const decided = { ...cliEnv, EXPORT_DEFINITION: `${FIXTURES}documenso/decided.yaml` };
    for (const args of [['--dry-run'], ['--reason', 'asked']]) {
      const refused = await runCli(['erase', '2', ...args], decided);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/2 is the ghost user \(erasure\.ghost_user\)/);
    }
    const asked = [
      (await db.query(`select erasure_id from exporter_request_erasure('2', 'asked')`)).rows[0].erasure_id,
    ];
    const erase = await runCli(['erase', person, '--reason', 'asked', '--json'], decided);
    expect(erase.code, erase.stderr).toBe(0);
    asked.push(JSON.parse(erase.stdout).id);
    await runCli(['nightly'], decided);
    const status = async (id: string) =>
      (await db.query('select status, error from data_export_erasures where id = $1', [id])).rows[0];
    expect(await status(asked[0])).toMatchObject({ status: 'failed', error: expect.stringMatching(/is never erased/) });
    expect((await db.query(`select 1 from "User" where id = 2`)).rowCount).toBe(1);
    const hers = await status(asked[1]);
    expect(hers, hers.error).toMatchObject({ status: 'done' });
  });

  it('synapse: an anonymize rule on a table with no primary key is refused by check (an erasure walks the rows by it)', async () => {
    const { url, cliEnv } = await databases.create();
    await loadPublishedSchema(url, 'synapse');
    const entities = Object.keys(parse(readFileSync(`${FIXTURES}synapse/decided.yaml`, 'utf8')).entities);
    const rules: Record<string, unknown> = Object.fromEntries(entities.map((e) => [e, 'delete']));
    // The IP addresses a person signed in from, pseudonymized: user_ips has no primary key (Synapse declares none).
    rules.user_ips = { anonymize: { ip: { text: '[erased]' } } };
    const withRules = { ...cliEnv, EXPORT_DEFINITION: decidedWith('synapse', rules) };
    expect((await runCli(['migrate'], withRules)).code).toBe(0);
    const check = await runCli(['check', '--json'], withRules);
    expect(check.code).toBe(2);
    expect(JSON.parse(check.stdout).problems).toContainEqual(
      expect.stringMatching(/^entities\.user_ips: erase\.anonymize walks the rows by their primary key .* has none/),
    );
  });
});
