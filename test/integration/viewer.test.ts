import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoUploads, seedUploads, seedUser } from '../../scripts/lib/sample-data.ts';
import { pngImage } from '../../scripts/lib/sample-media.ts';
import { viewerCodeBytes } from '../../src/viewer/write-viewer.ts';
import { chromiumAvailable, launchChromium, openExtracted, type PageRecord, show } from '../support/browser.ts';
import { archiveOf, createTestEnv, runCli, type TestEnv } from '../support/harness.ts';
import { insertFeature, insertProject, insertRelease, insertRequest, insertUser } from '../support/seed.ts';
import { uploadKey, userWithFiles } from '../support/user-files.ts';
import { viewerSections } from '../support/viewer-data.ts';

const DOCS = new URL('../../docs/', import.meta.url).pathname;

/** Markup, script and link payloads a user could have typed into any text column; a payload that ran would set window.__pwned. */
const PAYLOADS = [
  '<script>window.__pwned = 1</script>',
  '"><img src=x onerror="window.__pwned = 2">',
  "'><svg onload=window.__pwned=3>",
  'javascript:window.__pwned = 4',
  'JaVaScRiPt:alert(1)',
  'vbscript:msgbox(1)',
  'data:text/html,<script>window.__pwned=5</script>',
  '{{constructor.constructor("window.__pwned=6")()}}',
  '<a href="javascript:alert(1)">click</a>',
] as const;

/**
 * The archive's index.html in a real browser (Debian's Chromium, headless),
 * opened from the extracted folder over file:// with the network off, as the
 * person who asked for their data would open it.
 */
describe.skipIf(!chromiumAvailable())('the offline viewer (index.html) in Chromium', () => {
  let env: TestEnv;
  let browser: Browser;
  beforeAll(async () => {
    [env, browser] = await Promise.all([createTestEnv(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  /** Builds the user's export with the real CLI and opens it. */
  async function exportAndOpen(
    userId: string,
    settings: Record<string, string> = {},
    viewport?: { width: number; height: number },
    pending?: string,
  ) {
    const request = pending ?? (await insertRequest(env.admin, userId));
    const result = await runCli(['fulfill', '--request', request], { ...env.cliEnv, ...settings });
    expect(result.code, result.stderr).toBe(0);
    const archive = await archiveOf(env, request);
    return { archive, view: await openExtracted(browser, archive.zip, viewport) };
  }

  /** Text nodes that read "null" (what a null handed to replaceChildren or append becomes); these archives hold no such value. */
  function strayNulls(view: PageRecord): Promise<string[]> {
    return view.page.evaluate(() => {
      const found: string[] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode())
        if (walker.currentNode.textContent?.trim() === 'null')
          found.push(
            `in <${walker.currentNode.parentElement?.tagName} class="${walker.currentNode.parentElement?.className}">`,
          );
      return found;
    });
  }

  /** Nothing outside the extracted folder was asked for, nothing was logged as an error, no dialog opened. */
  function expectContained(view: PageRecord) {
    expect(view.requests.length).toBeGreaterThan(0);
    for (const url of view.requests) expect(url.startsWith(`file://${view.dir}/`), url).toBe(true);
    expect(view.errors).toEqual([]);
    expect(view.dialogs).toEqual([]);
  }

  it("the demo's archive: every entity with its count, a known value of each found by the filter, references by label, a picture decoded, a recording playable; nothing asked of the network; the README's screenshots", async () => {
    const user = await seedUser(env.admin, { projects: 3, features: 40, runs: 200, releases: 12 }, 'ada@example.test');
    await seedUploads(env.admin, env.s3, env.uploadsBucket, user, demoUploads());
    const { archive, view } = await exportAndOpen(user);
    const { page } = view;
    try {
      expect(viewerCodeBytes()).toBeLessThanOrEqual(150 * 1024);
      expect(archive.readme.split('\n').slice(0, 6).join('\n')).toMatch(/unzip this archive.*\n.*open index\.html/);
      expect(archive.manifest.viewer).toMatchObject({ index: 'index.html', rows_per_entity_at_most: 10_000 });

      // The overview: every entity, with the manifest's count.
      const overview = await page.locator('ul.entities > li').allInnerTexts();
      const entities = Object.entries(archive.manifest.entities as Record<string, { rows: number }>);
      expect(overview).toHaveLength(entities.length);
      for (const [i, [name, { rows }]] of entities.entries())
        expect(overview[i]).toContain(`${name} ${rows === 1 ? '1 row' : `${rows.toLocaleString('en-US')} rows`}`);
      await page.screenshot({ path: `${DOCS}viewer-overview.png`, fullPage: false });
      expect(await strayNulls(view), 'the overview shows a stray "null"').toEqual([]);

      // A known value of each entity, from its JSON, found by the filter (a column shown as it is: not one shown by its label).
      const definitions = archive.files.get('viewer/entities.js')!.toString();
      const info = {
        entities: JSON.parse(definitions.slice('exporterViewer.entities('.length, -');\n'.length)) as {
          name: string;
          references: { column: string }[];
        }[],
      };
      for (const [name, { rows }] of entities) {
        if (rows === 0) continue;
        const json = JSON.parse(archive.files.get(`json/${name}.json`)!.toString()) as Record<string, unknown>[];
        const referring = new Set(info.entities.find((e) => e.name === name)!.references.map((r) => r.column));
        const known = Object.entries(json.at(-1)!).find(
          ([column, v]) =>
            !referring.has(column) && typeof v === 'string' && v.length > 3 && v.length < 100 && !v.includes('/'),
        )![1] as string;
        await show(page, `view=entity&entity=${name}`);
        await page.fill('#filter', known);
        await expect.poll(() => page.locator('tbody').innerText(), { timeout: 5_000 }).toContain(known);
        expect(await page.locator('tbody tr').count(), `${name}: ${known}`).toBeGreaterThanOrEqual(1);
      }

      // A feature shows its project by name, linked to that project's row.
      await show(page, 'view=entity&entity=features');
      await page.fill('#filter', '');
      const projects = JSON.parse(archive.files.get('json/projects.json')!.toString()) as {
        id: string;
        name: string;
      }[];
      const firstFeature = (
        JSON.parse(archive.files.get('json/features.json')!.toString()) as { project_id: string }[]
      )[0]!;
      const project = projects.find((p) => p.id === firstFeature.project_id)!;
      const reference = page.locator('tbody tr').first().locator('td').nth(1).locator('a');
      expect(await reference.innerText()).toBe(project.name);
      // One page of rows: no pager, and nothing in its place.
      expect(await page.locator('.table-area nav.pager').count()).toBe(0);
      expect(await strayNulls(view), 'a table page shows a stray "null"').toEqual([]);
      await page.screenshot({ path: `${DOCS}viewer-table.png` });
      await reference.click();
      await page.waitForSelector('main[data-ready="true"]');
      expect(await page.locator('h1').innerText()).toBe(`projects: ${project.name}`);

      // The user's files: a picture decoded, a recording with a duration.
      await show(page, 'view=files');
      await page.waitForFunction(() => [...document.images].some((img) => img.complete && img.naturalWidth > 0), null, {
        timeout: 10_000,
      });
      await page.waitForFunction(() => [...document.querySelectorAll('audio')].some((a) => a.duration > 0), null, {
        timeout: 10_000,
      });
      expect(await page.locator('figure.picture img').count()).toBe(2);
      expect(await page.locator('ul.media-list a, .media-list li a').count()).toBeGreaterThanOrEqual(3);
      expectContained(view);
    } finally {
      await view.close();
    }
    // The same archive on a phone, for the README.
    const { view: phone } = await exportAndOpen(user, {}, { width: 360, height: 740 });
    try {
      await show(phone.page, 'view=entity&entity=features');
      const overflow = await phone.page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, 'the page scrolls sideways on a 360 px phone (only the table may)').toBeLessThanOrEqual(0);
      await phone.page.screenshot({ path: `${DOCS}viewer-phone.png` });
      // A screen reader's table: a caption, a header per column with aria-sort, a header per row.
      expect(await phone.page.locator('table > caption').count()).toBe(1);
      expect(await phone.page.locator('thead th[scope=col]').count()).toBe(
        1 + (await phone.page.locator('details.columns dt').count()),
      );
      expect(await phone.page.locator('thead th[aria-sort]').count()).toBeGreaterThan(0);
      expect(await phone.page.locator('tbody th[scope=row]').count()).toBe(40);
      // The keyboard: a view's change puts the focus on its heading; from the top of the page, the first Tab reaches the skip link; a header's sort button sorts with Enter.
      expect(await phone.page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
      await phone.page.reload();
      await phone.page.waitForSelector('main[data-ready="true"]');
      await phone.page.keyboard.press('Tab');
      expect(await phone.page.evaluate(() => document.activeElement?.className)).toBe('skip');
      await phone.page.locator('thead th[data-column="title"] button').focus();
      await phone.page.keyboard.press('Enter');
      expect(await phone.page.locator('thead th[data-column="title"]').getAttribute('aria-sort')).toBe('ascending');
      // Light and dark, as the system prefers.
      const background = () => phone.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await phone.page.emulateMedia({ colorScheme: 'light' });
      expect(await background()).toBe('rgb(255, 255, 255)');
      await phone.page.emulateMedia({ colorScheme: 'dark' });
      expect(await background()).toBe('rgb(22, 24, 28)');
      expectContained(phone);
    } finally {
      await phone.close();
    }
  });

  it('a hostile archive: every payload shows as text, none runs or becomes a link, no dialog opens; bidi overrides and invisible characters are shown as marks; a 60,000-character cell is cut in the table and whole in its row', async () => {
    const user = await insertUser(env.admin, { name: PAYLOADS[1] });
    const project = await insertProject(env.admin, user, { name: PAYLOADS[0], description: PAYLOADS.join('\n') });
    for (const [i, payload] of PAYLOADS.entries()) {
      await insertFeature(env.admin, project, {
        key: `K-${i}`,
        title: payload,
        metadata: JSON.stringify({ [payload]: payload, __proto__x: 1, nested: { html: payload } }),
      });
    }
    // A file name that reads as .txt but is an .exe, a cell of 60,000 characters, and a JSON key "__proto__" that must stay a key.
    await insertFeature(env.admin, project, {
      key: 'K-bidi',
      title: 'invoice\u202Etxt.exe\u200B\u2066x\u2069',
      metadata: '{"__proto__": {"polluted": true}, "kept": "yes"}',
    });
    await insertFeature(env.admin, project, { key: 'K-long', title: `${'L'.repeat(59_990)}THE-END-!`, metadata: null });
    // Numbers past 2^53 keep every digit on the page (a double would show 12345678901234567000), nested or not.
    await insertFeature(env.admin, project, {
      key: 'K-big',
      title: 'big numbers',
      metadata: `{"big": 12345678901234567890123, "list": [9007199254740993], "deep": ${'['.repeat(500)}1${']'.repeat(500)}}`,
    });
    await insertRelease(env.admin, project, { notes: 'https://example.com/"><script>window.__pwned=7</script>' });
    // A picture whose name is markup (the name is the user's, the file is real).
    const hostileFile = await userWithFiles(
      env,
      {
        key: uploadKey('p.png'),
        body: pngImage(20, 20),
        name: '"><img src=x onerror="window.__pwned=8">.png',
        contentType: 'image/png',
      },
      [],
    );
    for (const [owner, pending] of [
      [user, undefined],
      [hostileFile.user, hostileFile.request],
    ] as const) {
      const { view } = await exportAndOpen(owner, {}, undefined, pending);
      const { page } = view;
      try {
        const visited: string[] = [];
        for (const entity of ['users', 'projects', 'features', 'releases', 'avatars']) {
          await show(page, `view=entity&entity=${entity}`);
          visited.push(await page.locator('main').innerText());
          const rows = await page.locator('tbody tr').count();
          for (let i = 0; i < rows; i++) {
            const row = new URLSearchParams({ view: 'row', entity, row: String(i) }).toString();
            await show(page, row);
            visited.push(await page.locator('main').innerText());
          }
        }
        await show(page, 'view=files');
        visited.push(await page.locator('main').innerText());
        const text = visited.join('\n');
        if (owner === user) {
          for (const payload of PAYLOADS) expect(text, payload).toContain(payload);
          expect(text).toContain('invoice[U+202E]txt.exe[U+200B][U+2066]x[U+2069]');
          expect(text).toContain('"kept": "yes"');
          expect(text).toContain('"__proto__": {');
          // Cut in the table, whole on its row's page.
          expect(text).toContain('more characters: open the row to see all');
          expect(text).toContain('THE-END-!');
          expect(text).toContain('"big": 12345678901234567890123');
          expect(text).toContain('9007199254740993');
          // The https address is a link (to itself, as text), never markup.
          expect(await page.evaluate(() => ({}) as Record<string, unknown>)).not.toHaveProperty('polluted');
        } else {
          expect(text).toContain('onerror=');
          await page.waitForFunction(
            () => [...document.images].some((img) => img.complete && img.naturalWidth > 0),
            null,
            { timeout: 10_000 },
          );
        }
        // No payload ran, no link leads anywhere but the archive, https: or mailto:.
        expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
        for (const entity of ['projects', 'features', 'releases']) {
          await show(page, `view=entity&entity=${entity}`);
          const hrefs = await page.locator('a').evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).href));
          for (const href of hrefs) {
            const url = new URL(href);
            expect(['file:', 'https:', 'mailto:'], href).toContain(url.protocol);
            if (url.protocol === 'file:')
              expect(decodeURIComponent(url.pathname).startsWith(view.dir), href).toBe(true);
          }
        }
        expect(await page.locator('script:not([src])').count()).toBe(0);
        expect(await page.locator('img:not([src^="files/"])').count()).toBe(0);
        expectContained(view);
      } finally {
        await view.close();
      }
    }
  });

  it('more rows than EXPORT_VIEWER_ROWS: the page holds that many and says how many are only in the files; EXPORT_VIEWER=false leaves the viewer out', async () => {
    const user = await seedUser(env.admin, { projects: 1, features: 12, runs: 0, releases: 0 });
    const { archive, view } = await exportAndOpen(user, { EXPORT_VIEWER_ROWS: '5' });
    try {
      expect((JSON.parse(archive.files.get('json/features.json')!.toString()) as unknown[]).length).toBe(12);
      // The rows the page is handed, from the sealed scripts opened with the key in index.html.
      const handed = new Map(
        viewerSections(archive.files)
          .filter((s) => s.header.kind === 'rows')
          .map((s) => [s.header.entity, s.text.trim().split('\n')]),
      );
      expect(handed.get('features')).toHaveLength(5);
      expect(await view.page.locator('ul.entities').innerText()).toContain(
        'features 12 rows (this page shows the first 5)',
      );
      // No files: the navigation ends with the last entity, and nothing in place of "Your files".
      expect(archive.manifest.files).toEqual([]);
      expect((await view.page.locator('#nav > li').allInnerTexts()).at(-1)).toBe(
        Object.keys(archive.manifest.entities).at(-1),
      );
      expect(await view.page.locator('header').innerText()).not.toContain('null');
      expect(await strayNulls(view), 'the overview shows a stray "null"').toEqual([]);
      await show(view.page, 'view=entity&entity=features');
      expect(await strayNulls(view), 'a table page shows a stray "null"').toEqual([]);
      expect(await view.page.locator('main [role=note]').innerText()).toBe(
        'This page shows the first 5 of your 12 rows. The other 7 are only in the files below.',
      );
      expect(await view.page.locator('tbody tr').count()).toBe(5);
      expectContained(view);
    } finally {
      await view.close();
    }

    const request = await insertRequest(env.admin, user);
    const off = await runCli(['fulfill', '--request', request], { ...env.cliEnv, EXPORT_VIEWER: 'false' });
    expect(off.code, off.stderr).toBe(0);
    const plain = await archiveOf(env, request);
    expect([...plain.files.keys()].filter((name) => name === 'index.html' || name.startsWith('viewer/'))).toEqual([]);
    expect(plain.manifest).not.toHaveProperty('viewer');
    expect(plain.readme).not.toContain('index.html');
  });
});

mkdirSync(DOCS, { recursive: true });
