import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { loadDefinition } from '../../src/definition/parse.ts';
import { openFileSources } from '../../src/files/sources.ts';
import {
  createTestEnv,
  fulfillInProcess,
  getObject,
  listKeys,
  archiveOf as readArchive,
  requestRow,
  runCli,
  type TestEnv,
} from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { insertProject, insertRelease, insertRequest, insertUser } from '../support/seed.ts';
import { readWithStreamingReaders } from '../support/streaming-readers.ts';
import { toolAvailable } from '../support/tools.ts';
import { userWithFiles as seedUserWithFiles, type Upload } from '../support/user-files.ts';
import { readZip, zipEntryInfo } from '../support/zip.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe("the user's files", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env.close());

  const userWithFiles = (avatar: Upload | undefined, assets: Upload[], options: { upload?: boolean } = {}) =>
    seedUserWithFiles(env, avatar, assets, options);
  const archiveOf = (requestId: string) => readArchive(env, requestId);
  const key = (name: string) => `u/${randomUUID()}/${name}`;

  it('files of several types: byte for byte, hashed, stored or deflated by type, pointed at by their rows, and the archive opens in zipfile, unzip and 7-Zip', async () => {
    const text = Buffer.from('A line of release notes, compressible.\n'.repeat(3000));
    const files: Record<string, Upload> = {
      avatar: { key: key('me.png'), body: randomBytes(300_000), name: 'me.png', contentType: 'image/png' },
      song: { key: key('song.mp3'), body: randomBytes(200_000), contentType: 'audio/mpeg' },
      notes: { key: key('notes.txt'), body: text, contentType: 'text/plain; charset=utf-8' },
      // No type in the database: the source's Content-Type decides.
      manual: { key: key('manual.pdf'), body: randomBytes(50_000), storedType: 'application/pdf' },
      // A generic type: the extension decides.
      photo: { key: key('photo.jpg'), body: randomBytes(80_000), contentType: 'application/octet-stream' },
      table: { key: key('data.csv'), body: Buffer.from('a,b\n1,2\n'.repeat(5000)) },
      empty: { key: key('empty.txt'), body: Buffer.alloc(0), contentType: 'text/plain' },
    };
    const { user, request } = await userWithFiles(files.avatar, [
      files.song!,
      files.notes!,
      files.manual!,
      files.photo!,
      files.table!,
      files.empty!,
    ]);

    const result = await runCli(['fulfill', '--request', request], env.cliEnv);
    expect(result.code, result.stderr).toBe(0);
    const { row, zip, files: entries, manifest, readme } = await archiveOf(request);
    expect(row.status).toBe('ready');

    expect(manifest.file_counts).toEqual({ included: 7, missing: 0, too_large: 0, failed: 0 });
    const bySha = new Map(Object.values(files).map((f) => [sha256(f.body), f]));
    for (const record of manifest.files) {
      expect(record.outcome).toBe('included');
      const source = bySha.get(record.sha256);
      expect(source, record.path).toBeDefined();
      expect(entries.get(record.path)!.equals(source!.body), record.path).toBe(true);
      expect(record.bytes).toBe(source!.body.length);
    }
    expect(manifest.files.map((f: { path: string }) => f.path)).toContain(`files/avatars/${user}/me.png`);

    const info = await zipEntryInfo(zip);
    const entry = (name: string) =>
      info.get(manifest.files.find((f: { path: string }) => f.path.endsWith(`/${name}`)).path)!;
    // Already compressed content is not compressed again: stored where it is small enough to hold (sizes in its local header),
    // else deflate at level 0 (stored blocks, 5 bytes each); a stored entry never has a data descriptor.
    for (const stored of ['me.png', 'song.mp3', 'manual.pdf', 'photo.jpg']) {
      const e = entry(stored);
      expect(e.method === 0 ? !e.descriptor : e.compressedSize <= e.size * 1.002 + 64, stored).toBe(true);
    }
    expect(entry('me.png')).toMatchObject({ method: 8, descriptor: true }); // 300 KB: streamed
    expect(entry('photo.jpg')).toMatchObject({ method: 0, descriptor: false }); // 80 KB: held, then stored
    for (const deflated of ['notes.txt', 'data.csv']) expect(entry(deflated).method, deflated).toBe(8);
    for (const [name, e] of info) if (e.method === 0) expect(e.descriptor, name).toBe(false);

    // The rows say where their file is, in JSON and in CSV, and schema.json and README.txt say what that column is.
    const avatars = JSON.parse(entries.get('json/avatars.json')!.toString());
    expect(avatars).toEqual([
      expect.objectContaining({
        user_id: user,
        file_name: 'me.png',
        content_type: 'image/png',
        file_path: `files/avatars/${user}/me.png`,
      }),
    ]);
    expect(avatars[0]).not.toHaveProperty('object_key');
    const assets = JSON.parse(entries.get('json/release_assets.json')!.toString()) as { file_path: string }[];
    expect(assets).toHaveLength(6);
    for (const a of assets) expect(entries.has(a.file_path), a.file_path).toBe(true);
    expect(entries.get('csv/avatars.csv')!.toString()).toContain(`"files/avatars/${user}/me.png"`);
    const schema = JSON.parse(entries.get('schema.json')!.toString());
    expect(schema.$defs.release_assets.properties.file_path).toMatchObject({
      type: ['string', 'null'],
      description: expect.stringMatching(/in this archive/),
    });
    expect(readme).toMatch(/^ {2}- file_path: Where the picture is in this archive/m);
    expect(readme).toContain('7 of your 7 files are in this archive, in files/.');
    expect(readme).not.toContain('NOT in it');
    expect(Number(row.file_bytes_total)).toBe(Object.values(files).reduce((sum, f) => sum + f.body.length, 0));
    expect(row.file_bytes_written).toBe(row.file_bytes_total);

    const dir = mkdtempSync(path.join(tmpdir(), 'exporter-files-'));
    try {
      const file = path.join(dir, 'export.zip');
      writeFileSync(file, zip);
      const py = execFileSync('python3', [
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))',
        file,
      ]);
      expect(py.toString().trim()).toBe(String(entries.size));
      expect(execFileSync('unzip', ['-tq', file]).toString()).toMatch(/No errors detected/);
      if (toolAvailable('7zz')) expect(execFileSync('7zz', ['t', file]).toString()).toMatch(/Everything is Ok/);
      // Streaming readers (Java's ZipInputStream, Commons Compress, bsdtar from a pipe) get every entry, byte for byte.
      const hashes = new Map([...entries].map(([name, data]) => [name, sha256(data)]));
      for (const [reader, read] of readWithStreamingReaders(file)) expect(read, reader).toEqual(hashes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The sources are read, never changed.
    expect((await getUpload(files.avatar!.key)).equals(files.avatar!.body)).toBe(true);
  });

  const getUpload = async (k: string) => getObject({ ...env, bucket: env.uploadsBucket }, k);

  it('a missing file and one above EXPORT_MAX_FILE_BYTES: the archive is delivered, both named in the manifest and README.txt, their rows without a path', async () => {
    const ok = { key: key('kept.txt'), body: Buffer.from('kept'), contentType: 'text/plain' };
    const gone = { key: key('gone.txt'), body: Buffer.from('never uploaded') };
    const big = { key: key('big.bin'), body: randomBytes(5_000) };
    const { request } = await userWithFiles(undefined, [ok, big]);
    // The row of the missing one exists; its object does not.
    await env.admin.query(
      `insert into release_assets (id, release_id, object_key, file_name, byte_size) select gen_random_uuid(), release_id, 'releases/' || release_id || '/' || $1, 'gone.txt', 14 from release_assets where object_key = $2`,
      [gone.key, ok.key],
    );

    const { summary } = await fulfillInProcess(env, {
      requestIds: [request],
      config: env.config({ maxFileBytes: '1000' }),
    });
    expect(summary).toMatchObject({ ready: 1, retrying: 0, failed: 0 });
    const { files, manifest, readme } = await archiveOf(request);
    expect(manifest.file_counts).toEqual({ included: 1, missing: 1, too_large: 1, failed: 0 });
    const outcome = (name: string) => manifest.files.find((f: { path: string }) => f.path.endsWith(`/${name}`));
    expect(outcome('kept.txt')).toMatchObject({ outcome: 'included', bytes: 4, sha256: sha256(ok.body) });
    expect(outcome('gone.txt')).toMatchObject({ outcome: 'missing' });
    expect(outcome('big.bin')).toMatchObject({ outcome: 'too_large', bytes: 5000 });
    expect(files.has(outcome('gone.txt').path)).toBe(false);
    expect(files.has(outcome('big.bin').path)).toBe(false);

    expect(readme).toContain('1 of your 3 files are in this archive');
    expect(readme).toContain('2 are NOT in it');
    expect(readme).toContain(`${outcome('gone.txt').path}: no longer exists in our storage`);
    expect(readme).toContain(`${outcome('big.bin').path}: is too large to put in an archive`);
    const rows = JSON.parse(files.get('json/release_assets.json')!.toString()) as {
      file_name: string;
      file_path: string | null;
    }[];
    expect(Object.fromEntries(rows.map((r) => [r.file_name, r.file_path]))).toEqual({
      'kept.txt': outcome('kept.txt').path,
      'big.bin': null,
      'gone.txt': null,
    });
    const csv = files.get('csv/release_assets.csv')!.toString();
    expect(csv).toContain(`"${outcome('kept.txt').path}"`);
    expect(csv).not.toContain(outcome('gone.txt').path);
  });

  /** The shipped definition's sources, read through a proxy in front of the storage. */
  const sourcesThrough = (proxy: S3Proxy) => {
    const files = openFileSources(loadDefinition(SAMPLE_FILES_DEFINITION).fileSources, env.config().storage, {
      ...env.cliEnv,
      EXPORT_SOURCE_UPLOADS_ENDPOINT: proxy.url,
    });
    onTestFinished(() => files.destroy());
    return files;
  };
  const isUploadRead = (bucket: () => string) => (r: { method: string; url: string }) =>
    r.method === 'GET' && r.url.startsWith(`/${bucket()}/`);

  it('a source that fails twice then answers, and a download cut off halfway: both included whole (the cut one resumed where it broke off)', async () => {
    const proxy = await S3Proxy.start(inject('s3').endpoint);
    onTestFinished(() => proxy.close());
    const flaky = { key: key('flaky.bin'), body: randomBytes(20_000) };
    const cut = { key: key('cut.bin'), body: randomBytes(3_000_000) };
    const { request } = await userWithFiles(undefined, [flaky, cut]);
    proxy.fail((r) => isUploadRead(() => env.uploadsBucket)(r) && r.url.includes('flaky.bin'), { times: 2 });
    proxy.cut((r) => isUploadRead(() => env.uploadsBucket)(r) && r.url.includes('cut.bin'), 1_000_000, { times: 1 });

    const { summary } = await fulfillInProcess(env, { requestIds: [request], files: sourcesThrough(proxy) });
    expect(summary).toMatchObject({ ready: 1, retrying: 0 });
    const { files, manifest } = await archiveOf(request);
    expect(manifest.file_counts).toEqual({ included: 2, missing: 0, too_large: 0, failed: 0 });
    for (const source of [flaky, cut]) {
      const record = manifest.files.find((f: { path: string }) => f.path.endsWith(path.basename(source.key)));
      expect(record.bytes, record.path).toBe(source.body.length);
      expect(record.sha256, record.path).toBe(sha256(source.body));
      expect(files.get(record.path)!.equals(source.body)).toBe(true);
    }
    const reads = proxy.seen.filter(isUploadRead(() => env.uploadsBucket));
    expect(reads.filter((r) => r.url.includes('flaky.bin'))).toHaveLength(3);
    expect(reads.filter((r) => r.url.includes('cut.bin'))).toHaveLength(2);
  });

  it('a source that keeps failing: no archive with a hole; the request is retried later; on its last attempt it is delivered with the file listed as failed', async () => {
    const proxy = await S3Proxy.start(inject('s3').endpoint);
    onTestFinished(() => proxy.close());
    const down = { key: key('down.txt'), body: Buffer.from('the source is down') };
    const fine = { key: key('fine.txt'), body: Buffer.from('fine') };
    const { user, request } = await userWithFiles(undefined, [down, fine]);
    proxy.fail((r) => isUploadRead(() => env.uploadsBucket)(r) && r.url.includes('down.txt'));
    const files = sourcesThrough(proxy);

    const first = await fulfillInProcess(env, {
      requestIds: [request],
      files,
      config: env.config({ maxAttempts: '2' }),
    });
    expect(first.summary).toMatchObject({ ready: 0, retrying: 1 });
    const retrying = (await requestRow(env, request))!;
    expect(retrying).toMatchObject({
      status: 'pending',
      attempts: 1,
      error: 'a file could not be read from its source (uploads)',
      object_key: null,
    });
    expect(retrying.not_before).not.toBeNull();
    expect((await listKeys(env)).filter((k) => k.includes(user))).toEqual([]);
    expect(first.logger.text()).not.toContain(down.key); // the key is the application's business, not the log's

    await env.admin.query('update data_export_requests set not_before = null where id = $1', [request]);
    const last = await fulfillInProcess(env, {
      requestIds: [request],
      files,
      config: env.config({ maxAttempts: '2' }),
    });
    expect(last.summary).toMatchObject({ ready: 1 });
    const { manifest, readme } = await archiveOf(request);
    expect(manifest.file_counts).toEqual({ included: 1, missing: 0, too_large: 0, failed: 1 });
    const failed = manifest.files.find((f: { outcome: string }) => f.outcome === 'failed');
    expect(failed.path).toMatch(/\/down\.txt$/);
    expect(readme).toContain(`${failed.path}: could not be read from our storage`);
  });

  it('hostile file names: every path in the archive is safe, unique, and unpacks inside its folder', async () => {
    const names = [
      '../../etc/passwd',
      '/etc/shadow',
      'C:\\Windows\\x.txt',
      'a/b',
      `${'x'.repeat(300)}.txt`,
      `${'é'.repeat(150)}.pdf`,
      '\u202Egnp.exe',
      'bell\u0007tab\tnew\nline.txt',
      'same.txt',
      'same.txt',
      '..',
      '.',
      '',
      'CON',
      'trailing. . ',
      'e\u0301.txt', // NFD: becomes the NFC é
      'zero\u200Bwidth.txt',
    ];
    const uploads = names.map((name) => ({
      key: key('object'),
      body: Buffer.from(`file named ${JSON.stringify(name)}`),
      name,
      contentType: 'text/plain',
    }));
    const { request } = await userWithFiles(undefined, uploads);
    const { summary } = await fulfillInProcess(env, { requestIds: [request] });
    expect(summary.ready).toBe(1);
    const { zip, files, manifest } = await archiveOf(request);
    const paths = manifest.files.map((f: { path: string }) => f.path) as string[];
    expect(manifest.file_counts.included).toBe(names.length);
    expect(new Set(paths).size).toBe(names.length);
    for (const p of paths) {
      const parts = p.split('/');
      expect(parts, p).toHaveLength(4);
      expect(parts[0]).toBe('files');
      expect(parts[1]).toBe('release_assets');
      expect(parts[2]).toMatch(/^[0-9a-f-]{36}$/);
      const name = parts[3]!;
      expect(name, p).not.toMatch(
        /^\.|[\\:<>"|?*\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]|[. ]$/,
      );
      expect(Buffer.byteLength(name), p).toBeLessThanOrEqual(200);
      expect([...name].length, p).toBeLessThanOrEqual(120);
      expect(name.normalize('NFC')).toBe(name);
      expect(name).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i);
      expect(files.has(p)).toBe(true);
    }
    expect(paths.some((p) => p.endsWith('/é.txt'))).toBe(true);
    expect(paths.some((p) => /\/x{100,}\.txt$/.test(p))).toBe(true); // the extension survives the cut
    expect(paths.some((p) => /\/é+\.pdf$/.test(p))).toBe(true);

    // Unpacked by a real unzip, nothing lands outside the folder.
    const dir = mkdtempSync(path.join(tmpdir(), 'exporter-hostile-'));
    try {
      writeFileSync(path.join(dir, 'export.zip'), zip);
      const out = path.join(dir, 'out');
      execFileSync('unzip', ['-q', path.join(dir, 'export.zip'), '-d', out]);
      const walk = (d: string): string[] =>
        readdirSync(d).flatMap((n) =>
          statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)],
        );
      const unpacked = walk(out);
      expect(unpacked.filter((f) => f.includes(`${path.sep}files${path.sep}`))).toHaveLength(names.length);
      for (const f of walk(dir)) expect(realpathSync(f).startsWith(realpathSync(dir))).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['export.zip', 'out']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("another user's files are never in the archive: a file is the user's only through a row that is", async () => {
    const mine = { key: key('mine.txt'), body: Buffer.from('mine') };
    const theirs = { key: key('theirs.txt'), body: Buffer.from('theirs') };
    const theirAvatar = { key: key('their-face.png'), body: randomBytes(1000), name: 'face.png' };
    const a = await userWithFiles(undefined, [mine]);
    await userWithFiles(theirAvatar, [theirs]);
    await fulfillInProcess(env, { requestIds: [a.request] });
    const { files, manifest } = await archiveOf(a.request);
    expect(manifest.files.map((f: { path: string }) => path.basename(f.path))).toEqual(['mine.txt']);
    const fileEntries = [...files.keys()].filter((k) => k.startsWith('files/'));
    expect(fileEntries).toHaveLength(1);
    for (const body of [theirs.body, theirAvatar.body])
      expect([...files.values()].some((b) => b.equals(body))).toBe(false);
  });

  it('200 small files: all in, in path order, each exact (read ahead, written one by one)', async () => {
    const uploads = Array.from({ length: 200 }, (_, i) => ({
      key: key(`small-${i}.bin`),
      body: randomBytes(1 + ((i * 37) % 3000)),
    }));
    const { request } = await userWithFiles(undefined, uploads);
    await fulfillInProcess(env, { requestIds: [request] });
    const { files, manifest } = await archiveOf(request);
    expect(manifest.file_counts.included).toBe(200);
    const paths = manifest.files.map((f: { path: string }) => f.path);
    expect(paths).toEqual([...paths].sort());
    const byName = new Map(uploads.map((u) => [path.basename(u.key), u.body]));
    for (const record of manifest.files)
      expect(files.get(record.path)!.equals(byName.get(path.basename(record.path))!)).toBe(true);
  });

  it('an archive over EXPORT_MAX_ARCHIVE_BYTES is refused before the first byte, for good, with the reason on the request', async () => {
    const { user, request } = await userWithFiles(undefined, [{ key: key('large.bin'), body: randomBytes(50_000) }]);
    const result = await runCli(['fulfill', '--request', request], {
      ...env.cliEnv,
      EXPORT_MAX_ARCHIVE_BYTES: '40000',
    });
    expect(result.code).toBe(1);
    const row = (await requestRow(env, request))!;
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(
      /^the export is too large: about \d+(\.\d)? KiB, more than the 39\.1 KiB one archive may hold$/,
    );
    expect((await listKeys(env)).filter((k) => k.includes(user))).toEqual([]);
  });

  it('more files than EXPORT_MAX_FILES: refused before the first byte, for good, with the count on the request', async () => {
    const { user, request } = await userWithFiles({ key: key('me.png'), body: randomBytes(100) }, [
      { key: key('a.txt'), body: Buffer.from('a') },
      { key: key('b.txt'), body: Buffer.from('b') },
    ]);
    const result = await runCli(['fulfill', '--request', request], { ...env.cliEnv, EXPORT_MAX_FILES: '2' });
    expect(result.code).toBe(1);
    expect(await requestRow(env, request)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'the export is too large: 3 files, more than the 2 one archive may hold',
    });
    expect(result.stderr).toMatch(/more than EXPORT_MAX_FILES \(2\)/);
    expect((await listKeys(env)).filter((k) => k.includes(user))).toEqual([]);
    // With the limit at the count, it is built.
    expect((await runCli(['fulfill', '--request', request], { ...env.cliEnv, EXPORT_MAX_FILES: '3' })).code).toBe(0);
  });

  it('sizes the database understated or made up (1, negative) change nothing: the bytes that come are counted, and an archive past the limit fails for good, nothing left behind', async () => {
    const body = randomBytes(600_000);
    for (const size of [1, -1e12, null]) {
      const { user, request } = await userWithFiles(undefined, [{ key: key('big.bin'), body, size }]);
      const result = await runCli(['fulfill', '--request', request], {
        ...env.cliEnv,
        EXPORT_MAX_ARCHIVE_BYTES: '300KiB',
      });
      expect(result.code, `${size}: ${result.stderr}`).toBe(1);
      const row = (await requestRow(env, request))!;
      expect(row, String(size)).toMatchObject({ status: 'failed', download_url: null, object_key: null });
      expect(row.error).toMatch(
        /^the export is too large: (about \S+ \S+, )?more than the 300 KiB one archive may hold$/,
      );
      expect((await listKeys(env)).filter((k) => k.includes(user))).toEqual([]);
    }
  });

  it('rows whose estimate was short (text PostgreSQL stores compressed) stop the archive at the limit while it is written: failed for good, the upload aborted', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    // 4 MB of text that TOAST compresses to a few KB: the estimate sees the few KB.
    await env.admin.query(`update projects set description = repeat('all work and no play ', 200000) where id = $1`, [
      project,
    ]);
    const request = await insertRequest(env.admin, user);
    const result = await runCli(['fulfill', '--request', request], { ...env.cliEnv, EXPORT_MAX_ARCHIVE_BYTES: '1MiB' });
    expect(result.code, result.stderr).toBe(1);
    expect(await requestRow(env, request)).toMatchObject({
      status: 'failed',
      error: 'the export is too large: more than the 1 MiB one archive may hold',
      attempts: 1,
    });
    expect(result.stderr).toMatch(/passed EXPORT_MAX_ARCHIVE_BYTES \(1 MiB\) while it was written/);
    expect((await listKeys(env)).filter((k) => k.includes(user))).toEqual([]);
  });
});

describe('files behind https URLs', () => {
  let env: TestEnv;
  let dir: string;
  let server: https.Server;
  let host: string;
  const report = randomBytes(40_000);
  const chunkedBig = randomBytes(2_000_000);
  const chunkedSmall = randomBytes(300_000);
  const gzippedText = Buffer.from('A line that compresses well.\n'.repeat(20_000));
  const acceptEncodings: string[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    dir = mkdtempSync(path.join(tmpdir(), 'exporter-https-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${dir}/key.pem`,
        '-out',
        `${dir}/cert.pem`,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    server = https.createServer(
      { key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) },
      (req, res) => {
        const url = new URL(req.url!, 'https://localhost');
        if (url.pathname === '/files/report.pdf') {
          res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': report.length, etag: '"v1"' });
          res.end(req.method === 'HEAD' ? undefined : report);
        } else if (url.pathname === '/chunked.bin' || url.pathname === '/small-chunked.bin') {
          // No Content-Length: the body comes in chunks, its size unknown until it ends.
          const body = url.pathname === '/chunked.bin' ? chunkedBig : chunkedSmall;
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          if (req.method === 'HEAD') return res.end();
          for (let at = 0; at < body.length; at += 64 * 1024) res.write(body.subarray(at, at + 64 * 1024));
          res.end();
        } else if (url.pathname === '/gzipped.txt') {
          // A server that compresses whatever the client asked for (Content-Length counts the compressed bytes).
          acceptEncodings.push(String(req.headers['accept-encoding']));
          const gz = gzipSync(gzippedText);
          res.writeHead(200, {
            'content-type': 'text/plain',
            'content-encoding': 'gzip',
            'content-length': gz.length,
            etag: '"gz1"',
          });
          res.end(req.method === 'HEAD' ? undefined : gz);
        } else if (url.pathname === '/elsewhere') {
          res.writeHead(302, { location: 'https://attacker.example.test/steal' }).end();
        } else {
          res.writeHead(404).end();
        }
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `localhost:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
    await env.close();
  });

  it('a URL on an allowed host is read like an object; another host, plain http, a redirect away: refused, listed as failed, the rest delivered', async () => {
    // The sample definition, with release assets behind URLs on one allowed host.
    const definition = path.join(dir, 'https.yaml');
    const sample = readFileSync(new URL('../../definitions/sample-files.yaml', import.meta.url), 'utf8');
    const edited = sample
      .replace('file_sources:\n', `file_sources:\n  cdn:\n    https_hosts: [${host}]\n`)
      .replace(
        /( {2}release_assets:[\s\S]*? {8})source: uploads\n {8}key: object_key\n.*\n.*key_prefix.*\n/,
        '$1source: cdn\n        url: object_key\n        owner_bound: the test writes every address itself\n',
      );
    expect(edited).toContain('source: cdn\n        url: object_key\n        owner_bound:');
    writeFileSync(definition, edited);

    const user = await insertUser(env.admin);
    const release = await insertRelease(env.admin, await insertProject(env.admin, user));
    const urls = {
      'report.pdf': `https://${host}/files/report.pdf?X-Amz-Signature=SIGNATURE0123456789abcdef`,
      'other-host.png': 'https://other.example.test/x.png',
      'plain-http.txt': `http://${host}/files/report.pdf`,
      'redirected.bin': `https://${host}/elsewhere`,
      'gone.txt': `https://${host}/files/gone.txt`,
    };
    for (const [name, url] of Object.entries(urls)) {
      await env.admin.query(
        'insert into release_assets (id, release_id, object_key, file_name) values ($1, $2, $3, $4)',
        [randomUUID(), release, url, name],
      );
    }
    const request = await insertRequest(env.admin, user);

    const result = await runCli(['fulfill', '--request', request], {
      ...env.cliEnv,
      EXPORT_DEFINITION: definition,
      NODE_EXTRA_CA_CERTS: `${dir}/cert.pem`,
      LOG_LEVEL: 'debug',
    });
    expect(result.code, result.stderr).toBe(0);
    const row = (await requestRow(env, request))!;
    expect(row.status).toBe('ready');
    const files = await readZip(await getObject(env, row.object_key));
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    const outcome = (name: string) => manifest.files.find((f: { path: string }) => f.path.endsWith(`/${name}`));
    expect(outcome('report.pdf')).toMatchObject({ outcome: 'included', sha256: sha256(report) });
    expect(files.get(outcome('report.pdf').path)!.equals(report)).toBe(true);
    // The person reads plain words; which host it was is the operator's business (the log).
    expect(outcome('other-host.png')).toMatchObject({
      outcome: 'failed',
      reason: 'its address is not on a server we read files from',
    });
    expect(outcome('plain-http.txt')).toMatchObject({ outcome: 'failed', reason: 'its address is not https' });
    expect(outcome('redirected.bin')).toMatchObject({
      outcome: 'failed',
      reason: 'its address is not on a server we read files from',
    });
    for (const name of ['manifest.json', 'README.txt']) {
      for (const internal of ['other.example.test', 'attacker.example.test', host, '127.0.0.1'])
        expect(files.get(name)!.toString(), `${name}: ${internal}`).not.toContain(internal);
    }
    expect(result.stderr).toMatch(/its host attacker\.example\.test is not on the allowed hosts/);
    expect(outcome('gone.txt')).toMatchObject({ outcome: 'missing' });
    expect(manifest.file_counts).toEqual({ included: 1, missing: 1, too_large: 0, failed: 3 });
    // The one warning names archive paths, never the URLs; a URL's signature reaches no log and no archive file but the row's own column.
    expect(result.stderr).toMatch(/some of the user's files are not in the archive/);
    expect(result.stderr).not.toContain('SIGNATURE0123456789abcdef');
  });

  it('sizes counted, not announced: a body without Content-Length over EXPORT_MAX_FILE_BYTES is too_large, one under it included; a body compressed despite identity is stored as decoded', async () => {
    const definition = path.join(dir, 'https-sizes.yaml');
    const sample = readFileSync(new URL('../../definitions/sample-files.yaml', import.meta.url), 'utf8');
    writeFileSync(
      definition,
      sample
        .replace('file_sources:\n', `file_sources:\n  cdn:\n    https_hosts: [${host}]\n`)
        .replace(
          /( {2}release_assets:[\s\S]*? {8})source: uploads\n {8}key: object_key\n.*\n.*key_prefix.*\n/,
          '$1source: cdn\n        url: object_key\n        owner_bound: the test writes every address itself\n',
        ),
    );
    const user = await insertUser(env.admin);
    const release = await insertRelease(env.admin, await insertProject(env.admin, user));
    // The size column says 10 bytes for each: never trusted.
    for (const name of ['chunked.bin', 'small-chunked.bin', 'gzipped.txt']) {
      await env.admin.query(
        'insert into release_assets (id, release_id, object_key, file_name, byte_size) values ($1, $2, $3, $4, 10)',
        [randomUUID(), release, `https://${host}/${name}`, name],
      );
    }
    const request = await insertRequest(env.admin, user);
    const result = await runCli(['fulfill', '--request', request], {
      ...env.cliEnv,
      EXPORT_DEFINITION: definition,
      EXPORT_MAX_FILE_BYTES: '1MiB',
      NODE_EXTRA_CA_CERTS: `${dir}/cert.pem`,
    });
    expect(result.code, result.stderr).toBe(0);
    const row = (await requestRow(env, request))!;
    const files = await readZip(await getObject(env, row.object_key));
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    const outcome = (name: string) => manifest.files.find((f: { path: string }) => f.path.endsWith(`/${name}`));
    expect(outcome('chunked.bin')).toMatchObject({
      outcome: 'too_large',
      reason: 'it is larger than the 1 MiB one file in an archive may be',
    });
    expect(files.has(outcome('chunked.bin').path)).toBe(false);
    expect(outcome('small-chunked.bin')).toMatchObject({
      outcome: 'included',
      bytes: chunkedSmall.length,
      sha256: sha256(chunkedSmall),
    });
    expect(files.get(outcome('small-chunked.bin').path)!.equals(chunkedSmall)).toBe(true);
    expect(outcome('gzipped.txt')).toMatchObject({
      outcome: 'included',
      bytes: gzippedText.length,
      sha256: sha256(gzippedText),
    });
    expect(files.get(outcome('gzipped.txt').path)!.equals(gzippedText)).toBe(true);
    expect(acceptEncodings.length).toBeGreaterThan(0);
    expect(new Set(acceptEncodings)).toEqual(new Set(['identity']));
  });
});

describe('file names in a database that is not UTF8', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env.close());

  it('SQL_ASCII: names are made safe byte-wise, never cut inside a UTF-8 character, and COPY can still write them as UTF-8', async () => {
    const name = `a_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await env.admin.query(
      `create database ${name} encoding 'SQL_ASCII' lc_collate 'C' lc_ctype 'C' template template0`,
    );
    const url = new URL(env.databaseUrl);
    url.pathname = `/${name}`;
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    try {
      // What the function needs of the migrations: the requests table the same file alters, then the file itself.
      await db.query('create table data_export_requests (id int)');
      await db.query(readFileSync(new URL('../../sql/000006_files.sql', import.meta.url), 'utf8'));
      const hostile = [
        '../../etc/passwd',
        'C:\\x',
        'bell\u0007.txt',
        '\u202Egnp.exe',
        `${'é'.repeat(150)}.pdf`,
        `${'x'.repeat(118)}é.txt`,
      ];
      const { rows } = await db.query<{ safe: string }>(
        `select exporter_file_name(convert_from(decode(n, 'hex'), 'SQL_ASCII')) as safe from unnest($1::text[]) n`,
        [hostile.map((h) => Buffer.from(h).toString('hex'))],
      );
      // COPY converts to UTF-8 on the way out: invalid bytes would fail it.
      const copied: Buffer[] = [];
      for await (const chunk of db.query(
        copyTo(
          `copy (select exporter_file_name(convert_from(decode(n, 'hex'), 'SQL_ASCII')) from unnest(array[${hostile.map((h) => `'${Buffer.from(h).toString('hex')}'`).join(',')}]) n) to stdout with (encoding 'UTF8')`,
        ),
      ))
        copied.push(chunk as Buffer);
      expect(Buffer.concat(copied).toString('utf8').split('\n').filter(Boolean)).toHaveLength(hostile.length);
      for (const { safe } of rows) {
        const text = safe; // decoded as UTF-8 by the client: a broken sequence would show as U+FFFD
        expect(text, text).not.toMatch(/^\.|[/\\:\u0000-\u001f\u007f\ufffd]|[. ]$/);
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(200);
      }
    } finally {
      await db.end();
      await env.admin.query(`drop database ${name}`).catch(() => {});
    }
  });
});
