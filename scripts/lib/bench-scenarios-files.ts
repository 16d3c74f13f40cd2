import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { type BenchContext, log } from './bench-context.ts';
import { type Figures, median } from './bench-report.ts';
import { emptyRequests, insertRequest, LIGHT_USER, requeueAll } from './bench-requests.ts';
import { SAMPLE_UPLOADS_BUCKET } from './embedded.ts';
import { seedUploads, seedUser } from './sample-data.ts';

/**
 * The user's files: peak RSS and time for a light user with no files, the
 * same with one large file (stored: video), and with many small text files
 * (deflated), each built alone by `exporter fulfill --request`.
 */
export async function filesScenario(ctx: BenchContext): Promise<Figures[]> {
  const { fileMib, smallFiles } = ctx.settings;
  log(`\n[files] seeding: no files; one file of ${fileMib} MiB; ${smallFiles} small files…`);
  await emptyRequests(ctx.db);
  const { none, big, many } = await seedFileUsers(ctx);
  const results: Figures[] = [];
  for (const [label, userId, files] of [
    ['no files', none, 0],
    [`one ${fileMib} MiB file`, big, 1],
    [`${smallFiles} small files`, many, smallFiles],
  ] as const) {
    results.push(await filesRuns(ctx, label, userId, files));
  }
  return results;
}

/** Three light users: one with no files, one with the one large file, one with the many small ones. */
async function seedFileUsers(ctx: BenchContext) {
  const { db } = ctx;
  const { fileMib, smallFiles } = ctx.settings;
  const bigBytes = fileMib * 2 ** 20;
  const none = await seedUser(db, LIGHT_USER);
  const big = await seedUser(db, LIGHT_USER);
  await seedUploads(db, ctx.s3, SAMPLE_UPLOADS_BUCKET, big, {
    assets: [{ name: 'talk.mp4', contentType: 'video/mp4', bytes: bigBytes, body: () => pseudoRandom(bigBytes) }],
  });
  const many = await seedUser(db, LIGHT_USER);
  const smallText = (i: number) =>
    Buffer.from(`note ${i}: ${'some words that compress well. '.repeat(10 + (i % 100))}\n`);
  await seedUploads(db, ctx.s3, SAMPLE_UPLOADS_BUCKET, many, {
    assets: Array.from({ length: smallFiles }, (_, i) => ({
      name: `note-${i}.txt`,
      contentType: 'text/plain',
      bytes: smallText(i).length,
      body: smallText(i),
    })),
  });
  return { none, big, many };
}

async function filesRuns(ctx: BenchContext, label: string, userId: string, files: number): Promise<Figures> {
  const shape = LIGHT_USER;
  const secondsList: number[] = [];
  const rssList: number[] = [];
  let archiveBytes = 0;
  const requestId = await insertRequest(ctx.db, userId);
  for (let i = 0; i < ctx.settings.repeat; i++) {
    await requeueAll(ctx.db);
    const run = await ctx.processes.exporter(['fulfill', '--request', requestId]);
    const finished = run.logs.find((l) => l.msg === 'fulfill finished')!;
    const ready = run.logs.find((l) => l.msg === 'request ready');
    if (!ready) throw new Error(`[files] ${label}: not ready`);
    secondsList.push(run.seconds);
    rssList.push(finished.maxRssMb as number);
    archiveBytes = ready.bytes as number;
    log(
      `[files] ${label}: ${run.seconds.toFixed(2)} s, peak RSS ${finished.maxRssMb} MB, archive ${(archiveBytes / 2 ** 20).toFixed(1)} MB`,
    );
  }
  return {
    scenario: `files: ${label}`,
    seconds: median(secondsList),
    rows: shape.projects + shape.features + shape.runs + shape.releases + 1 + files,
    archiveBytes,
    maxRssMb: Math.max(...rssList),
    note: files ? `${files} file(s) in files/` : 'baseline',
  };
}

/** `bytes` of incompressible content without holding it: a 16 MiB random block, repeated (stored, never deflated, so repetition costs nothing). */
function pseudoRandom(bytes: number): Readable {
  const block = randomBytes(16 * 2 ** 20);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const chunk = block.subarray(0, Math.min(left, block.length));
      left -= chunk.length;
      this.push(chunk);
    },
  });
}
