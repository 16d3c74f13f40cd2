import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, type YAMLMap } from 'yaml';
import { FreshDatabases } from '../support/fresh-database.ts';
import { archiveOf, createTestEnv, runCli, type TestEnv } from '../support/harness.ts';
import { scenario as documenso } from '../support/published-scenarios/documenso.ts';
import { scenario as lemmy } from '../support/published-scenarios/lemmy.ts';
import { scenario as listmonk } from '../support/published-scenarios/listmonk.ts';
import { scenario as openstreetmap } from '../support/published-scenarios/openstreetmap.ts';
import type { Scenario } from '../support/published-scenarios/scenario.ts';
import { scenario as supabase } from '../support/published-scenarios/supabase.ts';
import { scenario as synapse } from '../support/published-scenarios/synapse.ts';
import { loadPublishedSchema } from '../support/published-schemas.ts';

/*
 * Real applications' published schemas, used verbatim (test/fixtures/schemas/:
 * each names its repository and commit, and every edit made to load it). For
 * each, people are seeded; the draft `exporter init` writes, unedited, builds
 * an archive that holds no other person's row and no credential; `check
 * --strict` names every line a person must decide, the tables the draft could
 * not place among them; and the definition with those decided (decided.yaml,
 * beside the schema) builds the person's complete archive, still private.
 */
const SCENARIOS: Scenario[] = [openstreetmap, synapse, documenso, supabase, lemmy, listmonk];
const FIXTURES = new URL('../fixtures/schemas/', import.meta.url).pathname;

let env: TestEnv;
let databases: FreshDatabases;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  databases = new FreshDatabases(env);
  dir = mkdtempSync(path.join(tmpdir(), 'published-'));
});
afterAll(async () => {
  await databases?.close();
  await env?.close();
});

describe.each(SCENARIOS.map((s) => [s.app, s] as const))('a published schema: %s', (app, scenario) => {
  it('the unedited draft is private; check --strict names every decision left, the unplaced tables among them; the decided definition (where one is committed) is complete and private', async () => {
    const { db, url, cliEnv } = await databases.create();
    await loadPublishedSchema(url, app);
    const seeded = await scenario.seed(db);

    // The draft, as an adopter gets it.
    const draft = path.join(dir, `${app}-draft.yaml`);
    const started = performance.now();
    const init = await runCli(
      [
        'init',
        '--user-table',
        scenario.userTable,
        ...(scenario.userKey ? ['--user-key', scenario.userKey] : []),
        '--out',
        draft,
      ],
      cliEnv,
    );
    const initSeconds = (performance.now() - started) / 1000;
    expect(init.code, init.stderr).toBe(0);
    const text = readFileSync(draft, 'utf8');
    const withDraft = { ...cliEnv, EXPORT_DEFINITION: draft };
    expect((await runCli(['migrate'], withDraft)).code).toBe(0);
    const check = await runCli(['check'], withDraft);
    expect(check.code, check.stderr).toBe(0);
    const strict = await runCli(['check', '--strict', '--json'], withDraft);
    expect(strict.code).toBe(2);
    const todoLines = text.split('\n').flatMap((line, i) => (/\bTODO\b/.test(line) ? [i + 1] : []));
    const named = (JSON.parse(strict.stdout).problems as string[]).map((p) =>
      Number(p.slice(draft.length + 1).split(':')[0]),
    );
    expect(named).toEqual(todoLines);
    const unplaced = text.split('\n').filter((line) => /^ *# TODO: "[^"]+": /.test(line)).length;
    // Erase rules, privacy first: one for every entity, whose plan the dry run gives; or, where they could not hold
    // on this database, none and one TODO saying why (check stays green either way).
    const entities = (parseDocument(text).get('entities') as YAMLMap).items.length;
    const rules = text.split('\n').filter((line) => /^ {4}erase: /.test(line)).length;
    if (rules === 0) expect(text).toContain('# TODO: erase rules (docs/erasure.md): the draft could not propose');
    else {
      expect(rules).toBe(entities);
      const dry = await runCli(['erase', seeded.person, '--dry-run'], withDraft);
      expect(dry.code, dry.stderr).toBe(0);
    }

    const requested = await runCli(['request', seeded.person, '--json'], withDraft);
    expect(requested.code, requested.stderr).toBe(0);
    const request = JSON.parse(requested.stdout).id as string;
    const built = await runCli(['fulfill', '--request', request], withDraft);
    expect(built.code, built.stderr).toBe(0);
    const unedited = await archiveOf(env, request, db);
    for (const other of [...seeded.others, ...seeded.secrets])
      expect(unedited.text, `the unedited draft's archive holds ${other}`).not.toContain(other);
    scenario.draftHolds?.(unedited.files);
    console.log(
      `${app}: ${todoLines.length} TODO lines (${unplaced} table${unplaced === 1 ? '' : 's'} not placed), ${rules ? `${rules} erase rules` : 'no erase rules'}, init ${initSeconds.toFixed(2)} s`,
    );
    if (!scenario.decided) return;

    // The same TODOs decided by a person (decided.yaml, committed beside the schema): complete, and still private.
    const decided = path.join(FIXTURES, app, 'decided.yaml');
    const withDecided = { ...cliEnv, EXPORT_DEFINITION: decided };
    expect((await runCli(['migrate'], withDecided)).code).toBe(0);
    const decidedCheck = await runCli(['check', '--strict'], withDecided);
    expect(decidedCheck.code, decidedCheck.stderr).toBe(0);
    const rebuilt = await runCli(['fulfill', '--request', request], withDecided);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const complete = (await archiveOf(env, request, db)).text;
    for (const mine of seeded.mine) expect(complete, `the decided archive lacks ${mine}`).toContain(mine);
    for (const other of [...seeded.others, ...seeded.secrets])
      expect(complete, `the decided archive holds ${other}`).not.toContain(other);
  });
});
