import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { toolAvailable } from './tools.ts';

/** Debian's Chromium (scripts/install-test-tools.sh installs it); false where this machine lacks it and CI is not running. */
export function chromiumAvailable(): boolean {
  return toolAvailable('chromium');
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/** What a page did while it was open: every request, console error, uncaught error and dialog. */
export interface PageRecord {
  page: Page;
  dir: string;
  requests: string[];
  errors: string[];
  dialogs: string[];
  close(): Promise<void>;
}

/**
 * Extracts a ZIP with unzip (a real reader) into a folder of its own and
 * opens its index.html over file:// in a context with the network off, as a
 * person who double-clicks it would.
 */
export async function openExtracted(
  browser: Browser,
  zip: Buffer,
  viewport = { width: 1200, height: 800 },
): Promise<PageRecord> {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'viewer-')));
  writeFileSync(path.join(dir, 'archive.zip'), zip);
  execFileSync('unzip', ['-q', 'archive.zip', '-d', 'x'], { cwd: dir });
  const root = path.join(dir, 'x');
  const context = await browser.newContext({ offline: true, viewport });
  const page = await context.newPage();
  const record: PageRecord = {
    page,
    dir: root,
    requests: [],
    errors: [],
    dialogs: [],
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  page.on('request', (r) => record.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') record.errors.push(m.text());
  });
  page.on('pageerror', (e) => record.errors.push(String(e)));
  page.on('dialog', (d) => {
    record.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`file://${root}/index.html`);
  await page.waitForSelector('main[data-ready="true"]');
  return record;
}

/** Goes to a view of the page (the address after #) and waits until it is drawn. */
export async function show(page: Page, hash: string): Promise<void> {
  await page.evaluate(() => document.getElementById('main')!.removeAttribute('data-ready'));
  await page.evaluate((h) => (location.hash = h), hash);
  await page.waitForSelector('main[data-ready="true"]');
}
