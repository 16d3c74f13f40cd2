import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { COMMUNITY_DEFINITION, COMMUNITY_SCHEMA } from '../support/community.ts';
import { createTestEnv, fulfillInProcess, getObject, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { EVERY_PLANE, SPREADSHEET_PAYLOADS } from '../support/hostile.ts';

/*
 * The archives stay byte for byte what they were before the redesign (#23):
 * the same entries in the same order, each with the same headers and the same
 * compressed bytes. test/fixtures/archive-identity.json holds the fingerprints
 * of the archives built by commit 16620d8 (the last before the redesign) from
 * the fixed data below: the sample schema with hostile text and the user's
 * files, the same with small limits (so every entity is cut into parts and its
 * CSV read ahead or paired with its JSON), and the community schema.
 *
 * Three things in an archive are not the same from one build to the next, and
 * only they are set aside: the DOS times in the ZIP headers (the clock), and in
 * README.txt and manifest.json the snapshot's time, the link's expiry and the
 * exporter's schema version (its newest migration). Those two entries are
 * compared by their text with placeholders there.
 *
 * (Recorded at 16620d8 with one change to this file: a users row per
 * community account, which that version's foreign key required. Since then
 * one change on purpose: schema.json's timestamp pattern, which also allows
 * 'infinity' and a time before year 1 (#24, column types); its three
 * schema.json lines were recorded again; and README.txt's text (#32: files/ and
 * split parts said only where the archive has them, with its own names, a
 * row counted as one, and how a yes or no shows in CSV), its three entries
 * recorded again. Every other entry is 16620d8's.)
 *
 * To record the fingerprints again (on purpose, when the archive's format is
 * meant to change): ARCHIVE_IDENTITY_WRITE=1 npx vitest run test/integration/archive-identity.test.ts
 */
const FIXTURE = new URL('../fixtures/archive-identity.json', import.meta.url).pathname;
const recording = process.env.ARCHIVE_IDENTITY_WRITE === '1';

/** A fixed uuid per number, so that every build sees the same ids in the same order. */
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const ALICE = id(1);
const BOB = id(2);

/** Bytes that neither deflate nor repeat, the same on every run (a SHA-256 chain). */
function noise(length: number, seed: string): Buffer {
  const chunks: Buffer[] = [];
  let block = createHash('sha256').update(seed).digest();
  for (let size = 0; size < length; size += block.length) {
    chunks.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return Buffer.concat(chunks).subarray(0, length);
}

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
  await seedSample(env);
  await seedCommunity(env);
});
afterAll(async () => {
  await env?.close();
});

async function upload(key: string, body: Buffer) {
  await env.s3Client.send(new PutObjectCommand({ Bucket: env.uploadsBucket, Key: key, Body: body }));
}

async function seedSample(env: TestEnv) {
  const q = (sql: string, params: unknown[]) => env.admin.query(sql, params);
  const user = (uid: string, email: string, name: string | null) =>
    q(
      `insert into users (id, email, name, password_hash, created_at) values ($1, $2, $3, 'HASH-MUST-NOT-LEAK', '2023-01-01T00:00:00.5Z')`,
      [uid, email, name],
    );
  await user(ALICE, 'alice@example.test', `Alice ${EVERY_PLANE}`);
  await user(BOB, 'bob@example.test', null);

  // One project per hostile text, owned by Alice; one of Bob's she is a member of; one of Bob's alone.
  const projects: string[] = [];
  for (const [i, name] of SPREADSHEET_PAYLOADS.entries()) {
    const pid = id(100 + i);
    projects.push(pid);
    await q(
      'insert into projects (id, owner_id, name, description, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)',
      [
        pid,
        ALICE,
        name,
        i % 3 === 0 ? null : i % 3 === 1 ? EVERY_PLANE : `${name}\n"${name}"`,
        `2024-01-${String(1 + i).padStart(2, '0')}T03:04:05.123456Z`,
      ],
    );
  }
  await q(
    `insert into projects (id, owner_id, name, description, created_at, updated_at) values ($1, $2, 'Bob''s shared', 'shared', '2024-02-01T00:00:00Z', '2024-02-01T00:00:00Z')`,
    [id(200), BOB],
  );
  await q(
    `insert into project_members (project_id, user_id, role, added_at) values ($1, $2, 'viewer', '2024-02-03T04:05:06.654321Z')`,
    [id(200), ALICE],
  );
  await q(
    `insert into projects (id, owner_id, name, description, created_at, updated_at) values ($1, $2, 'BOB-ONLY', 'BOB-ONLY', '2024-02-02T00:00:00Z', '2024-02-02T00:00:00Z')`,
    [id(201), BOB],
  );

  const main = projects[0]!;
  for (const [i, title] of [...SPREADSHEET_PAYLOADS, EVERY_PLANE, null].entries()) {
    await q(
      'insert into features (id, project_id, key, title, status, metadata, created_at, updated_at) values ($1, $2, $3, $4, $5, $6::jsonb, $7, $7)',
      [
        id(300 + i),
        i % 2 ? main : id(200),
        `FEAT-${i}`,
        title,
        i % 4 ? 'open' : 'done',
        i % 5 === 0 ? null : JSON.stringify({ title, n: i, deep: { list: [1, 2.5, -0.0001, null, true, '=1+1'] } }),
        `2024-03-04T05:06:07.${String(i).padStart(6, '0')}Z`,
      ],
    );
  }
  // Enough runs that the small limits cut them into several parts, with numbers past 2^53 and empty values.
  for (let i = 0; i < 600; i++) {
    await q(
      `insert into pipeline_runs (id, project_id, feature_id, number, status, trigger, branch, commit_sha, started_at, finished_at, duration_ms, metadata)
       values ($1, $2, $3, $4, $5, 'push', $6, $7, $8, $8::timestamptz + interval '1 minute', $9::bigint, $10::jsonb)`,
      [
        id(1000 + i),
        i % 7 === 0 ? id(200) : main,
        i % 3 === 0 ? id(301) : null,
        i + 1,
        ['passed', 'failed', 'cancelled'][i % 3],
        i % 11 === 0 ? null : SPREADSHEET_PAYLOADS[i % SPREADSHEET_PAYLOADS.length],
        noise(20, `sha${i}`).toString('hex'),
        i % 13 === 0
          ? null
          : new Date(Date.UTC(2024, 3, 5, 6, 7, 8) + i * 1000)
              .toISOString()
              .replace('Z', `${String(i % 1000).padStart(3, '0')}Z`),
        i % 17 === 0 ? null : i % 19 === 0 ? '9007199254740993' : String(i * 1234),
        i % 5 === 0
          ? null
          : JSON.stringify({ runner: 'linux', i, text: SPREADSHEET_PAYLOADS[i % SPREADSHEET_PAYLOADS.length] }),
      ],
    );
  }
  const release = id(400);
  await q(
    `insert into releases (id, project_id, version, name, notes, released_at, created_by) values ($1, $2, '1.0.0', 'First', $3, '2024-05-06T07:08:09.5Z', $4)`,
    [release, main, EVERY_PLANE, ALICE],
  );
  await q(
    `insert into releases (id, project_id, version, name, notes, released_at, created_by) values ($1, $2, '2.0.0', '=HYPERLINK("x")', null, '2024-06-06T07:08:09Z', null)`,
    [id(401), id(200)],
  );

  // Alice's files: a small picture, a small text, a large text and large noise (one held, the others streamed), one missing, one outside her prefix.
  await upload(`avatars/${ALICE}/me.png`, noise(1500, 'avatar'));
  await q(
    `insert into avatars (user_id, object_key, file_name, content_type, byte_size, updated_at) values ($1, $2, 'me.png', 'image/png', 1500, '2024-07-01T00:00:00Z')`,
    [ALICE, `avatars/${ALICE}/me.png`],
  );
  await upload(`avatars/${BOB}/bob.png`, noise(900, 'bob'));
  await q(
    `insert into avatars (user_id, object_key, file_name, content_type, byte_size, updated_at) values ($1, $2, 'bob.png', 'image/png', 900, '2024-07-01T00:00:00Z')`,
    [BOB, `avatars/${BOB}/bob.png`],
  );
  const assets: [string, string | null, Buffer | null, number | null][] = [
    ['notes.txt', 'text/plain', Buffer.from(`release notes ${EVERY_PLANE}\n`.repeat(20)), null],
    ['big.txt', 'text/plain', Buffer.from('a line that deflates well, over and over\n'.repeat(9000)), null],
    ['big.bin', 'application/octet-stream', noise(300 * 1024, 'big'), null],
    ['gone.pdf', 'application/pdf', null, 1234],
    ['../../avatars/x/climb.png', null, null, 10],
  ];
  for (const [i, [name, type, body, size]] of assets.entries()) {
    const key = `releases/${release}/${name}`;
    if (body) await upload(key, body);
    await q(
      `insert into release_assets (id, release_id, object_key, file_name, content_type, byte_size, created_at) values ($1, $2, $3, $4, $5, $6, $7)`,
      [id(500 + i), release, key, name, type, body ? body.length : size, `2024-05-07T00:00:0${i}Z`],
    );
  }
  await request(id(9001), ALICE);
}

/** A pending request with a fixed id (a user has one open request at a time: the next once this one is built). */
async function request(requestId: string, userId: string) {
  await env.admin.query(
    `insert into data_export_requests (id, user_id, status, requested_at) values ($1, $2, 'pending', '2026-01-01T00:00:00Z')`,
    [requestId, userId],
  );
}

async function seedCommunity(env: TestEnv) {
  await env.admin.query(COMMUNITY_SCHEMA);
  const [ana, ben] = [id(20), id(21)];
  for (const [uid, handle] of [
    [ana, 'ana'],
    [ben, 'ben'],
  ] as const) {
    await env.admin.query(`insert into accounts values ($1, $2, $3, 'DIGEST-MUST-NOT-LEAK')`, [
      uid,
      handle,
      `${handle}@example.test`,
    ]);
    await env.admin.query(`insert into profiles values ($1, $2, $3)`, [
      uid,
      `I am ${handle} ${EVERY_PLANE}`,
      SPREADSHEET_PAYLOADS[1],
    ]);
  }
  for (let i = 0; i < 40; i++) {
    await env.admin.query(`insert into messages values ($1, $2, $3, $4, $5)`, [
      id(2000 + i),
      i % 2 ? ana : ben,
      i % 2 ? ben : ana,
      SPREADSHEET_PAYLOADS[i % SPREADSHEET_PAYLOADS.length],
      `2026-01-01T10:${String(i).padStart(2, '0')}:00.${String(i * 7).padStart(6, '0')}Z`,
    ]);
  }
  await env.admin.query(`insert into contacts values ($1, $2, $3, 'Benny')`, [id(2100), ana, ben]);
  await env.admin.query(`insert into albums values ($1, $2, 'Holidays', '2025-08-01T00:00:00Z')`, [id(2200), ana]);
  await env.admin.query(`insert into photos values ($1, $2, 'beach', '2025-08-02T12:00:00Z'), ($3, $2, null, null)`, [
    id(2300),
    id(2200),
    id(2301),
  ]);
  await request(id(9003), ana);
}

/** Each entry, in the central directory's order: its headers (times set aside) and a digest of its bytes as stored. */
function fingerprint(zip: Buffer): Promise<string[]> {
  const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 24);
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, decodeStrings: false }, (err, archive) => {
      if (err || !archive) return reject(err);
      const lines: string[] = [];
      archive.on('error', reject);
      archive.on('end', () => resolve(lines));
      archive.on('entry', (entry: yauzl.Entry) => {
        const name = (entry.fileName as unknown as Buffer).toString('utf8');
        // The offline viewer (#25) came after: its entries are set aside, and the rest must not have changed for it.
        if (name === 'index.html' || name.startsWith('viewer/')) {
          archive.readEntry();
          return;
        }
        const extras = entry.extraFields.map((f) => `${f.id.toString(16)}:${f.data.toString('hex')}`).join(',');
        const headers = `${name} made=${entry.versionMadeBy} needs=${entry.versionNeededToExtract} flags=${entry.generalPurposeBitFlag} method=${entry.compressionMethod}`;
        const common = `${headers} size=${entry.uncompressedSize} attrs=${entry.externalFileAttributes}/${entry.internalFileAttributes} extra=[${extras}]`;
        const at = entry.relativeOffsetOfLocalHeader;
        const header = Buffer.from(zip.subarray(at, at + 30));
        header.fill(0, 10, 14); // the DOS time and date
        const dataStart = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
        const localExtra = zip.subarray(at + 30 + zip.readUInt16LE(at + 26), dataStart);
        if (name === 'README.txt' || name === 'manifest.json') {
          // The two entries that name the snapshot's time and the link's expiry: their text, with those set aside.
          archive.openReadStream(entry, (error, stream) => {
            if (error || !stream) return reject(error);
            const chunks: Buffer[] = [];
            stream.on('data', (c: Buffer) => chunks.push(c));
            stream.on('error', reject);
            stream.on('end', () => {
              lines.push(
                `${headers} attrs=${entry.externalFileAttributes}/${entry.internalFileAttributes} extra=[${extras}] text=${digest(Buffer.from(withoutTimes(name, Buffer.concat(chunks).toString('utf8'))))}`,
              );
              archive.readEntry();
            });
          });
          return;
        }
        lines.push(
          `${common} crc=${entry.crc32.toString(16)} compressed=${entry.compressedSize} local=${digest(Buffer.concat([header, localExtra]))} data=${digest(zip.subarray(dataStart, dataStart + entry.compressedSize))}`,
        );
        archive.readEntry();
      });
      archive.readEntry();
    });
  });
}

/** README.txt and manifest.json with the snapshot's time, the link's expiry and the schema version replaced by placeholders. */
function withoutTimes(name: string, raw: string): string {
  const text =
    name === 'manifest.json' ? withoutViewer(raw) : raw.replace(/\nTo look through your data: [\s\S]*?\n\n/, '\n');
  const versioned = text.replace(/\b\d{6}_[a-z_]+\b/g, 'SCHEMA_VERSION');
  if (name === 'manifest.json') {
    return versioned.replace(/"(as_of|link_expires_at)": "[^"]*"/g, (match) => match.replace(/\d/g, '0'));
  }
  return versioned.replace(
    /(as it was on |stops working on )(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/g,
    (_m, lead: string, when: string) => lead + when.replace(/\d/g, '0'),
  );
}

/** manifest.json without its `viewer` key (written by JSON.stringify with two spaces, so the rest reads back byte for byte). */
function withoutViewer(text: string): string {
  const manifest = JSON.parse(text) as Record<string, unknown>;
  if (!('viewer' in manifest)) return text;
  delete manifest.viewer;
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

async function archiveOf(requestId: string): Promise<Buffer> {
  const row = await requestRow(env, requestId);
  expect(row?.status, `request ${requestId}: ${row?.failure_reason ?? ''}`).toBe('ready');
  return getObject(env, row!.object_key);
}

describe('archives are byte for byte what they were before the redesign', () => {
  it('the sample schema with hostile text and files, with the default limits and with small ones, and the community schema', async () => {
    const built: Record<string, string[]> = {};
    await fulfillInProcess(env, { requestIds: [id(9001)] });
    built.sample = await fingerprint(await archiveOf(id(9001)));

    // Small limits: every entity over 8 KiB is cut into parts, and over 2 KiB has its CSV read ahead or paired with its JSON.
    const small = structuredClone(env.config()) as any;
    small.export.maxEntryBytes = 8 * 1024;
    small.export.parallelFromBytes = 2 * 1024;
    await request(id(9002), ALICE);
    await fulfillInProcess(env, { requestIds: [id(9002)], config: small });
    built['sample, small limits'] = await fingerprint(await archiveOf(id(9002)));

    const migrated = await runCli(['migrate'], { ...env.cliEnv, EXPORT_DEFINITION: COMMUNITY_DEFINITION });
    expect(migrated.code, migrated.stderr).toBe(0);
    const cli = await runCli(['fulfill', '--request', id(9003)], {
      ...env.cliEnv,
      EXPORT_DEFINITION: COMMUNITY_DEFINITION,
    });
    expect(cli.code, cli.stderr).toBe(0);
    built.community = await fingerprint(await archiveOf(id(9003)));

    // The fixture's own sanity: the files are in, Bob is not, and the small limits did cut entities into parts.
    expect(built.sample!.some((l) => l.startsWith('files/'))).toBe(true);
    expect(built['sample, small limits']!.filter((l) => l.startsWith('json/pipeline_runs')).length).toBeGreaterThan(2);

    if (recording) writeFileSync(FIXTURE, `${JSON.stringify(built, null, 2)}\n`);
    const before = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string[]>;
    expect(built).toEqual(before);
  });
});
