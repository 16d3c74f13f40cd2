import { PassThrough, pipeline, Transform } from 'node:stream';
import type pg from 'pg';
import type { Clock } from '../clock.ts';
import type { ExportConfig } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { type BuildProgress, type ClaimedRequest, markReady, releaseAfterFailure, releaseClaim, renewClaim } from '../db/requests.ts';
import type { ExportEntity, UserTable } from '../export/entities.ts';
import { rowCounts } from '../export/manifest.ts';
import { type Progress, UserNotFoundError, writeArchive } from '../export/write-archive.ts';
import { ArchiveTooLargeError, FileSourceError } from '../export/write-files.ts';
import type { FileSources } from '../files/sources.ts';
import { ArchiveClosedError, ZipWriter } from '../export/zip-writer.ts';
import type { Logger } from '../log.ts';
import { publicErrorText } from '../public-error.ts';
import type { PresignedLink, S3Storage } from '../storage/s3-storage.ts';

export interface PassDeps {
  db: Db;
  pool: pg.Pool;
  storage: S3Storage;
  log: Logger;
  clock: Clock;
}

export type RequestOutcome =
  | { kind: 'ready'; rows: number; bytes: number; seconds: number; rowCounts: Record<string, number> }
  | { kind: 'retry' | 'failed'; error: string }
  /** The claim was taken over, or the request (or its user) was deleted: nothing of ours remains. */
  | { kind: 'lost' }
  /** Stopped by a signal; the request is pending again. */
  | { kind: 'released' };

/** Files not included that are logged one by one, with their detail; the rest are counted. */
const NOT_INCLUDED_LOGGED = 20;

export class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** No row written and no byte uploaded for EXPORT_STALL_TIMEOUT (a hung connection). */
export class StallError extends Error {
  override name = 'TimeoutError';
}

export interface ExportContext {
  config: ExportConfig;
  /** What to export (from the definition, checked against the database at start). */
  entities: readonly ExportEntity[];
  user: UserTable;
  /** Where the users' files are read from (the definition's file_sources). */
  files: FileSources;
  exporterVersion: string;
  schemaVersion: string;
  /** Aborted when the process is asked to stop. */
  signal: AbortSignal;
  /** How often the claim is renewed (and progress reported). */
  heartbeatMs: number;
  onProgress?: (requestId: string, progress: BuildProgress) => void;
}

/**
 * One claimed request, start to end: snapshot → ZIP → multipart upload →
 * presigned link → the fenced `ready` update. Any failure in any stage aborts
 * the upload, so nothing half-written is ever published.
 */
export async function exportRequest(deps: PassDeps, request: ClaimedRequest, ctx: ExportContext, claimMs = 0): Promise<RequestOutcome> {
  const { db, storage, clock } = deps;
  const log = deps.log.child({ requestId: request.id, userId: request.userId, attempt: request.attempts });
  const started = performance.now();
  // Where the time of one request goes, in milliseconds, for the log line (and BENCHMARKS.md).
  const ms = { claim: claimMs, write: 0, presign: 0, upload: 0, publish: 0 };
  let mark = started;
  const lap = () => {
    const now = performance.now();
    const took = Math.round((now - mark) * 10) / 10;
    mark = now;
    return took;
  };
  const key = storage.objectKey(request.userId, request.id, request.claimId);
  const now = clock.now();
  const filename = `data-export-${now.toISOString().slice(0, 10)}.zip`;
  const stop = new AbortController();
  // Every stage is awaited through this: a stop (claim lost, stall, signal)
  // ends the build in whatever stage it is, even one that an abort would
  // leave waiting forever (the archiver's finalize, a COPY on a hung connection).
  const stopped = new Promise<never>((_resolve, reject) => {
    stop.signal.addEventListener('abort', () => reject(abortError(stop.signal.reason)), { once: true });
  });
  stopped.catch(() => {});
  const untilStopped = <T>(stage: Promise<T>): Promise<T> => Promise.race([stage, stopped]);
  const onSignal = () => stop.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onSignal();
  ctx.signal.addEventListener('abort', onSignal, { once: true });

  // The limit holds for what is written, not only for the estimate checked up front (writeArchive).
  let tooLarge: ArchiveTooLargeError | undefined;
  const zip = new ZipWriter({
    level: ctx.config.zipLevel,
    date: now,
    limit: { maxBytes: ctx.config.maxArchiveBytes, tooLarge: (bytes) => (tooLarge = ArchiveTooLargeError.written(bytes, ctx.config.maxArchiveBytes)) },
  });
  let archiveBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      archiveBytes += chunk.length;
      done(null, chunk);
    },
  });
  const body = new PassThrough();
  pipeline(zip.output, counter, body, () => {});

  let bytesUploaded = 0;
  // Whichever stage failed first is the cause; the others only echo it
  // (a failed upload ends the archive early; a failed query aborts the upload).
  let firstFailure: unknown;
  let progress: Progress = { rowsTotal: 0, rowsWritten: 0, fileBytesTotal: 0, fileBytesWritten: 0 };
  let expectedBytes: number | undefined;
  let totalsKnown = false;
  const upload = storage
    .upload(key, body, {
      contentDisposition: `attachment; filename="${filename}"`,
      signal: stop.signal,
      onProgress: (bytes) => (bytesUploaded = bytes),
      expectedBytes: () => expectedBytes,
    })
    .catch((error: unknown) => {
      firstFailure ??= error;
      zip.abort(error as Error);
      throw error;
    });
  // Never leave a rejection unobserved while the archive is still being written.
  upload.catch(() => {});
  stop.signal.addEventListener('abort', () => zip.abort(abortError(stop.signal.reason)), { once: true });

  // The watchdog: a connection that died silently can leave any stage
  // waiting, so a build that stops moving is stopped here.
  let lastMove = { at: performance.now(), rows: -1, bytes: -1, fileBytes: -1 };
  const beat = () => {
    const now = performance.now();
    if (progress.rowsWritten !== lastMove.rows || bytesUploaded !== lastMove.bytes || progress.fileBytesWritten !== lastMove.fileBytes) {
      lastMove = { at: now, rows: progress.rowsWritten, bytes: bytesUploaded, fileBytes: progress.fileBytesWritten };
    } else if (now - lastMove.at > ctx.config.stallTimeoutSeconds * 1000) {
      stop.abort(new StallError(`no progress for ${ctx.config.stallTimeoutSeconds} s`));
    }
    ctx.onProgress?.(request.id, { ...progress, bytesUploaded });
    renewClaim(db, request.id, request.claimId, ctx.config.claimTtlSeconds, { ...progress, bytesUploaded })
      .then((held) => {
        if (held || stop.signal.aborted) return;
        log.warn('the claim was lost (revoked, taken over, or the request deleted); stopping the build');
        stop.abort(new ClaimLostError('the claim was taken over or the request deleted'));
      })
      .catch((error: unknown) => log.warn({ err: error }, 'could not renew the claim'));
  };
  const heartbeat = setInterval(beat, ctx.heartbeatMs);

  let link: PresignedLink | undefined;
  let notIncludedLogged = 0;
  // Entities whose CSV was read on a second connection while their JSON was written: where it waited, or dropped.
  const csvReadAhead: Record<string, string> = {};
  try {
    const manifest = await untilStopped(writeArchive({
      pool: deps.pool,
      signal: stop.signal,
      zip,
      entities: ctx.entities,
      user: ctx.user,
      identity: { requestId: request.id, userId: request.userId, exporterVersion: ctx.exporterVersion, schemaVersion: ctx.schemaVersion },
      maxEntryBytes: ctx.config.maxEntryBytes,
      parallelFromBytes: ctx.config.parallelFromBytes,
      spoolDir: ctx.config.spoolDir,
      onCsvAhead: (entity, outcome) => (csvReadAhead[entity] = outcome),
      files: ctx.files,
      fileLimits: {
        maxFileBytes: ctx.config.maxFileBytes,
        finalAttempt: request.attempts >= ctx.config.maxAttempts,
        maxArchiveBytes: ctx.config.maxArchiveBytes,
        // What the archive does not say (the error's message: an address, a host), for the operator: the first few, then a count in the ready line.
        onNotIncluded: (file, detail) => {
          if (++notIncludedLogged <= NOT_INCLUDED_LOGGED) log.warn({ path: file.path, outcome: file.outcome, reason: file.reason, detail }, "one of the user's files is not in the archive");
        },
      },
      maxArchiveBytes: ctx.config.maxArchiveBytes,
      maxFiles: ctx.config.maxFiles,
      onPlan: (bytes) => (expectedBytes = bytes),
      linkExpiry: async () => {
        ms.write = lap();
        link = await storage.presign(key, { ttlSeconds: ctx.config.linkTtlSeconds, signedAt: clock.now(), filename });
        ms.presign = lap();
        return link.expiresAt;
      },
      onProgress: (p) => {
        const first = !totalsKnown;
        totalsKnown = true;
        progress = p;
        if (first) beat(); // the total is known: tell the app at once, not at the next beat
      },
    }));
    await untilStopped(zip.finalize());
    await untilStopped(upload);
    ms.upload = lap();
    if (stop.signal.aborted) throw abortError(stop.signal.reason);
    if (link!.credentialsExpireFirst) {
      log.warn(
        { linkExpiresAt: link!.expiresAt.toISOString(), wantedSeconds: ctx.config.linkTtlSeconds },
        'the signing credentials expire before the link lifetime: the link dies with them; sign with long-lived credentials (see README)',
      );
    }
    const notIncluded = manifest.files.filter((f) => f.outcome !== 'included');
    if (notIncluded.length > 0) {
      // The archive's paths and the reasons, never the source's keys or URLs.
      log.warn(
        { fileCounts: manifest.file_counts, notIncluded: notIncluded.slice(0, 20).map(({ path, outcome, reason }) => ({ path, outcome, reason })) },
        'some of the user\'s files are not in the archive (listed in its manifest and README.txt)',
      );
    }
    const counts = rowCounts(manifest);
    const published = await markReady(db, request.id, request.claimId, {
      downloadUrl: link!.url,
      expiresAt: link!.expiresAt,
      objectKey: key,
      archiveBytes,
      rowCounts: counts,
    });
    if (!published) {
      // Someone else owns the request now (or it is gone): our archive must not outlive that.
      await storage.delete(key);
      log.warn('claim lost before publishing; the archive was deleted');
      return { kind: 'lost' };
    }
    if (request.previousObjectKey && request.previousObjectKey !== key) {
      await storage.delete(request.previousObjectKey).catch((error: unknown) => {
        log.warn({ err: error }, 'could not delete the previous archive; the sweep will');
      });
    }
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    ms.publish = lap();
    log.info(
      {
        outcome: 'ready',
        rows: counts,
        bytes: archiveBytes,
        seconds: seconds(started),
        ms,
        expiresAt: link!.expiresAt.toISOString(),
        ...(Object.keys(csvReadAhead).length > 0 ? { csvReadAhead } : {}),
      },
      'request ready',
    );
    return { kind: 'ready', rows, bytes: archiveBytes, seconds: seconds(started), rowCounts: counts };
  } catch (error) {
    firstFailure ??= error;
    const stoppedOnPurpose = stop.signal.aborted;
    const stopReason: unknown = stop.signal.reason;
    stop.abort(error); // cancel what is still in flight (a no-op when already stopped)
    zip.abort(error as Error);
    // Settled: no request of this upload is in flight any more, so the
    // delete below is final (a complete that lands later cannot resurrect it).
    const uploadError: unknown = await upload.then(
      () => undefined,
      (e: unknown) => e,
    );
    // A build stopped on purpose reports why it was stopped; an archive that
    // was only cut short because its upload died reports the upload's error.
    const cause = tooLarge ?? (stoppedOnPurpose ? stopReason : isEcho(firstFailure) ? (uploadError ?? firstFailure) : firstFailure);
    // This attempt's key is its own and no row points at it: whatever the
    // upload got to (nothing, parts, or a whole object), none of it may stay.
    await storage.delete(key).catch((deleteError: unknown) => {
      log.warn({ err: deleteError }, "could not delete this attempt's upload; the sweep will");
    });
    try {
      return await retryBriefly(() => settleFailure(deps, request, ctx, cause, log, seconds(started)));
    } catch (settleError) {
      log.error(
        { err: settleError, cause },
        `could not record the failure; the request stays processing until its claim lapses (${ctx.config.claimTtlSeconds} s), then the next run takes it over`,
      );
      return { kind: 'retry', error: 'unrecorded' };
    }
  } finally {
    clearInterval(heartbeat);
    ctx.signal.removeEventListener('abort', onSignal);
  }
}

async function settleFailure(
  deps: PassDeps,
  request: ClaimedRequest,
  ctx: ExportContext,
  error: unknown,
  log: Logger,
  secs: number,
): Promise<RequestOutcome> {
  const { db } = deps;
  if (error instanceof ClaimLostError) {
    log.warn({ outcome: 'lost', seconds: secs }, 'claim lost while building; stopped');
    return { kind: 'lost' };
  }
  if (ctx.signal.aborted) {
    const released = await releaseClaim(db, request.id, request.claimId, 'interrupted; will be retried');
    log.warn({ outcome: released ? 'released' : 'lost', seconds: secs }, 'stopped; the request is pending again');
    return released ? { kind: 'released' } : { kind: 'lost' };
  }
  const final = error instanceof UserNotFoundError || error instanceof ArchiveTooLargeError;
  const text =
    error instanceof UserNotFoundError
      ? 'the user no longer exists'
      : error instanceof ArchiveTooLargeError || error instanceof FileSourceError
        ? error.publicText
        : publicErrorText(error, 'building the export');
  const status = await releaseAfterFailure(db, request.id, request.claimId, text, {
    maxAttempts: ctx.config.maxAttempts,
    backoffSeconds: ctx.config.retryBackoffSeconds,
    final,
  });
  if (status === 'lost') {
    log.warn({ outcome: 'lost', err: error, seconds: secs }, 'request gone or taken over after a failure');
    return { kind: 'lost' };
  }
  if (request.previousObjectKey) {
    // A ready request being rebuilt: its row no longer points at the earlier archive, whose link must stop working now, not at the sweep.
    await deps.storage.delete(request.previousObjectKey).catch((deleteError: unknown) => {
      log.warn({ err: deleteError }, 'could not delete the earlier archive of a rebuilt request; the sweep will');
    });
  }
  const kind = status === 'failed' ? 'failed' : 'retry';
  log.error({ outcome: kind, err: error, seconds: secs }, kind === 'failed' ? 'request failed' : 'request failed; will be retried');
  return { kind, error: text };
}

/** The errors a stream sees when another stage of the pipeline ended it. */
function isEcho(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'ABORT_ERR' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED' || error instanceof ArchiveClosedError;
}

/**
 * A killed database connection fails the next query on each pooled client
 * it took down; the pool drops such clients as their errors arrive, so a
 * short pause and a few tries reach a fresh connection.
 */
async function retryBriefly<T>(fn: () => Promise<T>, tries = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}
