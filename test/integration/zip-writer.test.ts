import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { readWithStreamingReaders } from '../support/streaming-readers.ts';
import { toolAvailable } from '../support/tools.ts';
import { readZip, zipEntryInfo, zipMethods } from '../support/zip.ts';

const DATE = new Date('2026-03-04T05:06:08Z');
const dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the entries through a ZipWriter and returns the whole archive (read as the upload reads it). */
async function zipOf(
  entries: { path: string; data: Buffer; store?: boolean; large?: boolean }[],
  level = 1,
): Promise<Buffer> {
  const zip = new ZipWriter({ level, date: DATE });
  const whole = buffer(zip.output);
  for (const { path: name, data, store, large } of entries) {
    const entry = zip.openEntry(name, { store, large });
    // In several chunks, as COPY and S3 hand them over.
    for (let at = 0; at < data.length; at += 100_000) await entry.write(data.subarray(at, at + 100_000));
    entry.end();
  }
  await zip.finalize();
  return whole;
}

/** The archive opened by unzip, Python's zipfile and 7-Zip: each tests every CRC. */
async function checkWithRealReaders(
  archive: Buffer,
  name: string,
  options: { streaming?: boolean } = {},
): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, archive);
  expect(execFileSync('unzip', ['-tq', file], { maxBuffer: 1 << 24 }).toString()).toMatch(/No errors detected/);
  // Readers that stream through the archive without its central directory get every entry, byte for byte.
  if (options.streaming !== false) {
    const expected = new Map(
      [...(await readZip(archive))].map(([n, data]) => [n, createHash('sha256').update(data).digest('hex')]),
    );
    for (const [reader, entries] of readWithStreamingReaders(file)) expect(entries, reader).toEqual(expected);
  }
  const py = execFileSync('python3', [
    '-c',
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(len(z.infolist()))',
    file,
  ])
    .toString()
    .trim();
  if (toolAvailable('7zz'))
    expect(execFileSync('7zz', ['t', file], { maxBuffer: 1 << 24 }).toString()).toMatch(/Everything is Ok/);
  return py;
}

function randomish(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let seed = createHash('sha256').update(String(bytes)).digest();
  for (let at = 0; at < bytes; at += 32) {
    seed.copy(out, at);
    seed = createHash('sha256').update(seed).digest();
  }
  return out;
}

describe('ZipWriter', () => {
  it('writes deflated and stored entries that real readers open byte for byte, with their date, method and permissions', async () => {
    const text = Buffer.from('id,name\n'.repeat(50_000));
    const photo = randomish(300_000);
    const thumb = randomish(20_000);
    const archive = await zipOf([
      { path: 'csv/projects.csv', data: text },
      { path: 'files/avatars/1/photo.jpg', data: photo, store: true },
      { path: 'files/avatars/1/thumb.jpg', data: thumb, store: true },
      { path: 'empty.txt', data: Buffer.alloc(0) },
      { path: 'files/名前/ünïcödé.txt', data: Buffer.from('héllo\n') },
    ]);
    const files = await readZip(archive);
    expect(files.get('csv/projects.csv')!.equals(text)).toBe(true);
    expect(files.get('files/avatars/1/photo.jpg')!.equals(photo)).toBe(true);
    expect(files.get('files/avatars/1/thumb.jpg')!.equals(thumb)).toBe(true);
    expect(files.get('empty.txt')!.length).toBe(0);
    expect(files.get('files/名前/ünïcödé.txt')!.toString()).toBe('héllo\n');
    // Stored only where its sizes and CRC go in the local header (small); larger content to be stored is deflate at level 0, never a stored entry with a descriptor.
    expect(Object.fromEntries(await zipMethods(archive))).toEqual({
      'csv/projects.csv': 8,
      'files/avatars/1/photo.jpg': 8,
      'files/avatars/1/thumb.jpg': 0,
      'empty.txt': 8,
      'files/名前/ünïcödé.txt': 8,
    });
    expect(Object.fromEntries([...(await zipEntryInfo(archive))].map(([n, i]) => [n, i.descriptor]))).toEqual({
      'csv/projects.csv': true,
      'files/avatars/1/photo.jpg': true,
      'files/avatars/1/thumb.jpg': false,
      'empty.txt': false,
      'files/名前/ünïcödé.txt': false,
    });
    expect(archive.length).toBeLessThan(text.length / 10 + photo.length + thumb.length + 2_000); // the text was compressed
    const entry = await firstEntry(archive);
    expect(entry.getLastModDate({ timezone: 'UTC' }).toISOString()).toBe('2026-03-04T05:06:08.000Z');
    expect(entry.externalFileAttributes >>> 16).toBe(0o100644); // a regular file, rw-r--r--
    expect(await checkWithRealReaders(archive, 'mixed.zip')).toBe('5');
  });

  it('level 0 stores every entry', async () => {
    const archive = await zipOf([{ path: 'a.json', data: Buffer.from('[]\n') }], 0);
    expect(Object.fromEntries(await zipMethods(archive))).toEqual({ 'a.json': 0 });
    expect((await readZip(archive)).get('a.json')!.toString()).toBe('[]\n');
  });

  it('an entry announced as large (ZIP64 sizes in its local header and descriptor) opens in every reader', async () => {
    const archive = await zipOf([
      { path: 'files/video.mp4', data: randomish(200_000), store: true, large: true },
      { path: 'files/notes.txt', data: Buffer.from('x'.repeat(100_000)), large: true },
      { path: 'manifest.json', data: Buffer.from('{}\n') },
    ]);
    expect([...(await readZip(archive)).keys()]).toEqual(['files/video.mp4', 'files/notes.txt', 'manifest.json']);
    expect(await checkWithRealReaders(archive, 'large.zip')).toBe('3');
  });

  it('more than 65,535 entries: the count goes into the ZIP64 end record, and the directory is written in pieces', {
    timeout: 120_000,
  }, async () => {
    const entries = Array.from({ length: 70_000 }, (_, i) => ({
      path: `files/uploads/${i}/note-${i}.txt`,
      data: Buffer.from(`note ${i}\n`),
    }));
    const archive = await zipOf(entries);
    expect(await checkWithRealReaders(archive, 'many.zip', { streaming: false })).toBe('70000');
  });

  it('a fragment written ahead (in parallel with the current entry) lands after it, at the right offsets; a discarded one leaves nothing', async () => {
    const zip = new ZipWriter({ level: 1, date: DATE });
    const whole = buffer(zip.output);
    const json = zip.openEntry('json/runs.json');
    // Written at the same time as the JSON, into a buffer smaller than itself: its writer waits until it is appended.
    const ahead = zip.fragment(64 * 1024);
    const aheadText = Buffer.from(
      Array.from({ length: 40_000 }, (_, i) => `${i},${createHash('md5').update(String(i)).digest('hex')}\n`).join(''),
    );
    const aheadWritten = (async () => {
      const csv = ahead.openEntry('csv/runs.csv');
      for (let at = 0; at < aheadText.length; at += 50_000) await csv.write(aheadText.subarray(at, at + 50_000));
      const file = csv.end();
      await ahead.endFragment();
      return file;
    })();
    const dropped = zip.fragment(64 * 1024);
    const droppedWrite = dropped.openEntry('csv/dropped.csv').write(randomish(1_000_000));
    const jsonText = randomish(700_000);
    await json.write(jsonText);
    json.end();
    zip.discardFragment(dropped, new Error('not needed'));
    await expect(droppedWrite).rejects.toThrow('not needed');
    const [file] = await Promise.all([aheadWritten, zip.appendFragment(ahead)]);
    expect(file.sha256).toBe(createHash('sha256').update(aheadText).digest('hex'));
    await zip.addText('manifest.json', '{}\n');
    await zip.finalize();
    const archive = await whole;
    const files = await readZip(archive);
    expect([...files.keys()]).toEqual(['json/runs.json', 'csv/runs.csv', 'manifest.json']);
    expect(files.get('csv/runs.csv')!.equals(aheadText)).toBe(true);
    expect(files.get('json/runs.json')!.equals(jsonText)).toBe(true);
    expect(await checkWithRealReaders(archive, 'fragment.zip')).toBe('3');
  });

  it('refuses a name it has already written, also one a fragment brings', async () => {
    const zip = new ZipWriter({ level: 1, date: DATE });
    zip.output.resume();
    zip.openEntry('files/notes/a_b/x.txt').end();
    expect(() => zip.openEntry('files/notes/a_b/x.txt')).toThrow(
      /files\/notes\/a_b\/x\.txt: a second entry of this name in one archive/,
    );
    const fragment = zip.fragment(1 << 20);
    fragment.openEntry('files/notes/a_b/x.txt').end();
    const ended = fragment.endFragment();
    await expect(zip.appendFragment(fragment)).rejects.toThrow(/a second entry of this name/);
    await ended;
    await expect(zip.finalize()).rejects.toThrow(/a second entry of this name/);
  });

  it('finalize() waiting on an output nobody reads settles at once when the archive is aborted', async () => {
    const zip = new ZipWriter({ level: 0, date: DATE });
    // Nobody consumes zip.output (the upload stopped): the archive fills its buffers and waits.
    const entry = zip.openEntry('big.bin');
    void entry.write(Buffer.alloc(8 * 1024 * 1024)).catch(() => {});
    entry.end();
    const finalized = zip.finalize();
    zip.abort(new Error('the claim was lost'));
    const outcome = await Promise.race([
      finalized.then(
        () => 'resolved',
        (error: Error) => error.message,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000)),
    ]);
    expect(outcome).toBe('the claim was lost');
  });

  it('a write waiting on a full output (deflating) fails with the reason the archive was aborted', async () => {
    const zip = new ZipWriter({ level: 1, date: DATE });
    const entry = zip.openEntry('data.bin');
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) writes.push(entry.write(randomish(256 * 1024)));
    const settled = Promise.allSettled(writes);
    await new Promise((resolve) => setTimeout(resolve, 200));
    zip.abort(new Error('the upload failed'));
    const outcomes = await settled;
    const reasons = new Set(
      outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.message),
    );
    expect(reasons).toEqual(new Set(['the upload failed']));
    expect(() => zip.openEntry('next.txt')).toThrow('the upload failed');
  });
});

function firstEntry(archive: Buffer): Promise<yauzl.Entry> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(archive, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      zip.once('entry', resolve);
      zip.once('error', reject);
      zip.readEntry();
    });
  });
}
