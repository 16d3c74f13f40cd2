import { rowCounts } from '../archive/manifest.ts';
import { type ArchiveEvents, type ArchivePlan, type Progress, writeArchive } from '../archive/write-archive.ts';
import type { ClaimedRequest } from '../db/claims.ts';
import { type BuildProgress, markReady } from '../db/requests.ts';
import type { Logger } from '../log.ts';
import { archiveFilename, type Manifest } from '../model/archive.ts';
import type { PresignedLink } from '../storage/s3-storage.ts';
import { ArchivePipeline } from './archive-pipeline.ts';
import { buildReads } from './read-source.ts';
import { retryBriefly, settleFailure } from './settle-failure.ts';
import { BuildStop } from './stop.ts';
import type { BuildRun, RequestOutcome, RunDeps } from './types.ts';
import { watchBuild } from './watch.ts';

/**
 * One claimed request, start to end, in named stages: build (a snapshot →
 * the ZIP, streamed into its upload), upload (the last byte stored), publish
 * (the fenced `ready` update with the presigned link), and on any failure,
 * settle (nothing of this attempt left, the request retried or failed).
 * Any failure in any stage aborts the upload, so nothing half-written is
 * ever published.
 */
export async function exportRequest(
  deps: RunDeps,
  request: ClaimedRequest,
  ctx: BuildRun,
  claimMs = 0,
): Promise<RequestOutcome> {
  const build = new Build(deps, request, ctx, claimMs);
  try {
    const manifest = await build.write();
    await build.upload();
    return await build.publish(manifest);
  } catch (error) {
    return await build.settle(error);
  } finally {
    build.dispose();
  }
}

/** Files not included that are logged one by one, with their detail; the rest are counted. */
const NOT_INCLUDED_LOGGED = 20;

/** One attempt at one request: what its stages share. */
class Build {
  private readonly log: Logger;
  private readonly started = performance.now();
  /** Where the time of one request goes, in milliseconds, for the log line (and BENCHMARKS.md). */
  private readonly ms: { claim: number; write: number; presign: number; upload: number; publish: number };
  private mark = this.started;
  private readonly key: string;
  private readonly filename: string;
  private readonly stop: BuildStop;
  private readonly pipeline: ArchivePipeline;
  private readonly watch: { beat(): void; clear(): void };
  private progress: Progress = { rowsTotal: 0, rowsWritten: 0, fileBytesTotal: 0, fileBytesWritten: 0 };
  private link: PresignedLink | undefined;
  private notIncludedLogged = 0;
  /** Entities whose CSV was read on a second connection while their JSON was written: where it waited, or dropped. */
  private readonly csvReadAhead: Record<string, string> = {};
  /** How long the snapshot was held open (the ready line says so: it holds back vacuum on the application's primary). */
  private snapshotSeconds: number | undefined;
  /** Where the snapshots read: the primary, or a replica caught up with the claim. */
  private readonly reads: ReturnType<typeof buildReads>;

  private readonly deps: RunDeps;
  private readonly request: ClaimedRequest;
  private readonly ctx: BuildRun;

  constructor(deps: RunDeps, request: ClaimedRequest, ctx: BuildRun, claimMs: number) {
    this.deps = deps;
    this.request = request;
    this.ctx = ctx;
    this.log = deps.log.child({ requestId: request.id, userId: request.userId, attempt: request.attempts });
    this.ms = { claim: claimMs, write: 0, presign: 0, upload: 0, publish: 0 };
    this.key = deps.storage.objectKey(request.userId, request.id, request.claimId);
    const now = deps.clock.now();
    this.filename = archiveFilename(now);
    this.stop = new BuildStop(ctx.signal);
    this.reads = buildReads(deps, request, this.stop.signal, this.log);
    this.pipeline = new ArchivePipeline(deps.storage, this.key, {
      filename: this.filename,
      level: ctx.config.zipLevel,
      date: now,
      maxArchiveBytes: ctx.config.maxArchiveBytes,
      signal: this.stop.signal,
    });
    this.watch = watchBuild({
      db: deps.db,
      request,
      config: ctx.config,
      heartbeatMs: ctx.heartbeatMs,
      log: this.log,
      stop: this.stop,
      progress: (): BuildProgress => ({ ...this.progress, bytesUploaded: this.pipeline.bytesUploaded }),
      onProgress: ctx.onProgress,
    });
  }

  /**
   * The build: the link signed first (the archive says when it expires, so that is decided before its
   * first byte; a presigned URL names an object that need not exist yet), then the user's data from one
   * snapshot into the ZIP, which streams into the upload as it is made.
   */
  async write(): Promise<Manifest> {
    const linkExpiresAt = await this.presign();
    const manifest = await this.stop.untilStopped(
      writeArchive(
        { reads: this.reads.source, zip: this.pipeline.zip, signal: this.stop.signal },
        this.archivePlan(linkExpiresAt),
        this.archiveEvents(),
      ),
    );
    await this.stop.untilStopped(this.pipeline.zip.finalize());
    this.ms.write = this.lap();
    return manifest;
  }

  /** What this request's archive holds, and its limits. */
  private archivePlan(linkExpiresAt: Date): ArchivePlan {
    const { ctx, request } = this;
    const { config } = ctx;
    return {
      identity: {
        requestId: request.id,
        userId: request.userId,
        exporterVersion: ctx.exporterVersion,
        schemaVersion: ctx.schemaVersion,
      },
      entities: ctx.entities,
      user: ctx.user,
      files: ctx.files,
      limits: {
        maxEntryBytes: config.maxEntryBytes,
        parallelFromBytes: config.parallelFromBytes,
        spoolDir: config.spoolDir,
        maxArchiveBytes: config.maxArchiveBytes,
        maxFiles: config.maxFiles,
        maxFileBytes: config.maxFileBytes,
        finalAttempt: request.attempts >= config.maxAttempts,
      },
      linkExpiresAt,
      ...(config.viewer ? { viewer: config.viewer } : {}),
    };
  }

  /** What the build keeps of what the writer tells it: the upload's expected size, progress, and what the ready line says. */
  private archiveEvents(): ArchiveEvents {
    let totalsKnown = false;
    return {
      planned: (bytes) => {
        this.pipeline.expectedBytes = bytes;
      },
      progress: (p) => {
        const first = !totalsKnown;
        totalsKnown = true;
        this.progress = p;
        if (first) this.watch.beat(); // the total is known: tell the app at once, not at the next beat
      },
      csvAhead: (entity, outcome) => {
        this.csvReadAhead[entity] = outcome;
      },
      // What the archive does not say (the error's message: an address, a host), for the operator: the first few, then a count in the ready line.
      fileNotIncluded: (file, detail) => {
        if (++this.notIncludedLogged <= NOT_INCLUDED_LOGGED)
          this.log.warn(
            { path: file.path, outcome: file.outcome, reason: file.reason, detail },
            "one of the user's files is not in the archive",
          );
      },
      snapshotClosed: (seconds) => {
        this.snapshotSeconds = seconds;
      },
    };
  }

  /** The link, signed before the archive's first byte: it works once the object is stored, until the expiry the archive states. */
  private async presign(): Promise<Date> {
    this.link = await this.deps.storage.presign(this.key, {
      ttlSeconds: this.ctx.config.linkTtlSeconds,
      signedAt: this.deps.clock.now(),
      filename: this.filename,
    });
    this.ms.presign = this.lap();
    return this.link.expiresAt;
  }

  /** The upload: resolves once the archive's last byte is stored. */
  async upload(): Promise<void> {
    await this.stop.untilStopped(this.pipeline.uploaded());
    this.ms.upload = this.lap();
    this.stop.throwIfStopped();
  }

  /** Publish: the fenced `ready` update; the earlier archive of a rebuilt request goes. */
  async publish(manifest: Manifest): Promise<RequestOutcome> {
    const { deps, request, log } = this;
    const link = this.link!;
    if (link.credentialsExpireFirst) {
      log.warn(
        { linkExpiresAt: link.expiresAt.toISOString(), wantedSeconds: this.ctx.config.linkTtlSeconds },
        'the signing credentials expire before the link lifetime: the link dies with them; sign with long-lived credentials (docs/security.md)',
      );
    }
    const notIncluded = manifest.files.filter((f) => f.outcome !== 'included');
    if (notIncluded.length > 0) {
      // The archive's paths and the reasons, never the source's keys or URLs.
      log.warn(
        {
          fileCounts: manifest.file_counts,
          notIncluded: notIncluded.slice(0, 20).map(({ path, outcome, reason }) => ({ path, outcome, reason })),
        },
        "some of the user's files are not in the archive (listed in its manifest and README.txt)",
      );
    }
    const counts = rowCounts(manifest);
    const bytes = this.pipeline.archiveBytes;
    const published = await markReady(deps.db, request.id, request.claimId, {
      downloadUrl: link.url,
      expiresAt: link.expiresAt,
      objectKey: this.key,
      archiveBytes: bytes,
      archiveSha256: this.pipeline.sha256(),
      rowCounts: counts,
    });
    if (!published) {
      // Someone else owns the request now (or it is gone): our archive must not outlive that.
      await deps.storage.delete(this.key);
      log.warn('claim lost before publishing; the archive was deleted');
      return { kind: 'lost' };
    }
    if (request.previousObjectKey && request.previousObjectKey !== this.key) {
      await deps.storage.delete(request.previousObjectKey).catch((error: unknown) => {
        log.warn({ err: error }, 'could not delete the previous archive; the sweep will');
      });
    }
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    this.ms.publish = this.lap();
    const csvReadAhead = this.csvReadAhead;
    log.info(
      {
        outcome: 'ready',
        rows: counts,
        bytes,
        seconds: this.seconds(),
        snapshotSeconds: this.snapshotSeconds,
        readFrom: this.reads.readFrom(),
        ms: this.ms,
        expiresAt: link.expiresAt.toISOString(),
        ...(Object.keys(csvReadAhead).length > 0 ? { csvReadAhead } : {}),
      },
      'request ready',
    );
    return { kind: 'ready', rows, bytes, seconds: this.seconds(), rowCounts: counts };
  }

  /**
   * After a failure in any stage: the upload ended (and settled, so the
   * delete is final), this attempt's object deleted (its key is its own and
   * no row points at it), and the request retried, failed, or handed back.
   */
  async settle(error: unknown): Promise<RequestOutcome> {
    const stopped = { onPurpose: this.stop.signal.aborted, reason: this.stop.signal.reason as unknown };
    this.stop.stop(error); // cancel what is still in flight (a no-op when already stopped)
    const cause = await this.pipeline.fail(error, stopped);
    await this.deps.storage.delete(this.key).catch((deleteError: unknown) => {
      this.log.warn({ err: deleteError }, "could not delete this attempt's upload; the sweep will");
    });
    try {
      return await retryBriefly(() =>
        settleFailure(this.deps, this.request, this.ctx, cause, this.log, this.seconds()),
      );
    } catch (settleError) {
      this.log.error(
        { err: settleError, cause },
        `could not record the failure; the request stays processing until its claim lapses (${this.ctx.config.claimTtlSeconds} s), then the next run takes it over`,
      );
      return { kind: 'retry', error: 'unrecorded' };
    }
  }

  dispose(): void {
    this.watch.clear();
    this.stop.dispose();
  }

  private lap(): number {
    const now = performance.now();
    const took = Math.round((now - this.mark) * 10) / 10;
    this.mark = now;
    return took;
  }

  private seconds(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }
}
