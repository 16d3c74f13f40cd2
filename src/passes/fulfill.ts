import { exportRequest } from '../building/request-build.ts';
import type { BuildContext, BuildRun, RequestOutcome, RunDeps } from '../building/types.ts';
import type { ExportConfig } from '../config.ts';
import { sealTrail } from '../db/audit-chain.ts';
import { type ClaimedRequest, claimByIds, claimNext, listClaimable } from '../db/claims.ts';
import { recipientsOf } from '../db/notifications.ts';
import { findRequests, releaseClaim } from '../db/requests.ts';
import type { Mailer } from '../email/mailer.ts';
import type { FallbackReason } from '../snapshot/replica-reads.ts';
import type { IdleSlots } from '../worker/idle-slots.ts';
import { settleEarlierRuns } from './housekeeping.ts';
import { type EmailOutcome, notifyReady } from './notify.ts';

export interface FulfillOptions {
  /** At most this many requests in this run. */
  limit: number;
  concurrency: number;
  /** Reprocess exactly these requests, whatever their status. */
  requestIds?: readonly string[];
  dryRun: boolean;
  /** Stop claiming (the first SIGTERM). */
  signal: AbortSignal;
  /**
   * Stop the builds in flight and hand their requests back. The batch stops
   * them at once (the default: `signal`); `work` lets them finish within its
   * grace period first.
   */
  abortSignal?: AbortSignal;
  /**
   * Continuous mode (`exporter work`): a slot that finds nothing to claim
   * waits here for a nudge or a poll instead of ending the run.
   */
  idle?: IdleSlots;
  /** Told when each build starts and how it ended (the live metrics of `work`). */
  observer?: BuildObserver;
  heartbeatMs?: number;
  onProgress?: BuildRun['onProgress'];
  /** Sends the "ready" email when set (SMTP_URL). */
  mailer?: Mailer;
}

export interface BuildObserver {
  started(request: ClaimedRequest): void;
  finished(outcome: RequestOutcome, request: ClaimedRequest): void;
}

export interface FulfillSummary {
  claimed: number;
  ready: number;
  retrying: number;
  failed: number;
  lost: number;
  released: number;
  /** Requests a dead worker left processing on its last attempt, ended failed at the start of this run. */
  abandoned: number;
  /** --request ids that could not be claimed: unknown, or held by a live worker. */
  skipped: { id: string; reason: string }[];
  /** What a dry run would have built. */
  wouldBuild: string[];
  rows: number;
  bytes: number;
  /** Seconds of the slowest ready request, and of all of them together. */
  slowestRequestSeconds: number;
  requestSecondsTotal: number;
  seconds: number;
  /** "Ready" emails sent, and sends that failed (retried by the next run). */
  emailsSent: number;
  emailsFailed: number;
  /** The process's peak resident memory so far, for sizing the pod's memory limit. */
  maxRssMb?: number;
  /** Builds that read from the primary although a replica is set, by reason (EXPORT_READ_DATABASE_URL). */
  replicaFallbacks?: Record<FallbackReason, number>;
}

/**
 * The fulfill loop: claim → build → upload → mark ready, `concurrency`
 * requests at a time. One loop, two modes (as graphile-worker's runOnce and
 * run): the batch (`fulfill`, `nightly`) ends when nothing is claimable or
 * the limit is reached; continuous mode (`work`, with `idle`) waits for a
 * nudge instead. Either way it ends when asked to stop, claiming nothing
 * more and handing back what it holds. One request's failure never stops
 * the others.
 */
export async function runFulfill(deps: RunDeps, ctx: BuildContext, options: FulfillOptions): Promise<FulfillSummary> {
  const started = performance.now();
  const { db, log } = deps;
  const { config } = ctx;
  const summary = emptySummary();
  if (options.dryRun) {
    await dryRun(deps, options, config, summary);
    summary.seconds = elapsed(started);
    return summary;
  }

  const { idle } = options;
  const recipients = recipientsOf(ctx.user);
  const mail = options.mailer && recipients && { db, mailer: options.mailer, log, recipients };
  // The batch settles what earlier runs left first; `work` does it in its housekeeping.
  if (!idle) {
    const settled = await settleEarlierRuns(deps, {
      maxAttempts: config.maxAttempts,
      mailer: options.mailer,
      recipients,
    });
    Object.assign(summary, settled);
  }
  const exportCtx = exportContextOf(ctx, options);
  const claims = await claimSource(deps, config, options, summary);

  const slot = async () => {
    while (!options.signal.aborted && summary.claimed < options.limit) {
      summary.claimed++; // reserve the slot before the await, so slots never overshoot the limit
      const claimStarted = performance.now();
      const request = await claims.next().catch((error: unknown) => {
        if (!idle) throw error;
        // A long-running worker outlives a database blip: log, wait for the next poll.
        log.warn({ err: error }, 'could not claim; retrying at the next poll');
        return undefined;
      });
      if (!request) {
        summary.claimed--;
        if (!idle || options.requestIds) return;
        await idle.wait(options.signal);
        continue;
      }
      idle?.wakeOne(); // there may be more: let one more idle slot look
      options.observer?.started(request);
      const outcome = await exportRequest(
        deps,
        request,
        exportCtx,
        Math.round((performance.now() - claimStarted) * 10) / 10,
      );
      recordOutcome(summary, outcome);
      options.observer?.finished(outcome, request);
      // After the ready update has committed, never before.
      if (outcome.kind === 'ready' && mail) countEmail(summary, await notifyReady(mail, request.id));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, slot));
  // Stopped before their turn: claimed together by --request, never started.
  for (const request of claims.unstarted) {
    if (await releaseClaim(db, request.id, request.claimId, 'interrupted; will be retried')) summary.released++;
  }
  // The run's events join the audit trail's chain (work's housekeeping does it for work): one statement for the whole run.
  if (!idle)
    await sealTrail(db).catch((error: unknown) =>
      log.error({ err: error }, 'could not seal the audit trail; the next run will'),
    );
  return withRunFigures(summary, deps, started);
}

/** The figures of the whole run: its time, the process's peak memory, and where the builds read. */
function withRunFigures(summary: FulfillSummary, deps: RunDeps, started: number): FulfillSummary {
  summary.seconds = elapsed(started);
  summary.maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  if (deps.replica) summary.replicaFallbacks = { ...deps.replica.fallbacks };
  return summary;
}

function emptySummary(): FulfillSummary {
  return {
    claimed: 0,
    ready: 0,
    retrying: 0,
    failed: 0,
    lost: 0,
    released: 0,
    abandoned: 0,
    skipped: [],
    wouldBuild: [],
    rows: 0,
    bytes: 0,
    slowestRequestSeconds: 0,
    requestSecondsTotal: 0,
    emailsSent: 0,
    emailsFailed: 0,
    seconds: 0,
  };
}

function recordOutcome(summary: FulfillSummary, outcome: RequestOutcome): void {
  if (outcome.kind === 'ready') {
    summary.ready++;
    summary.rows += outcome.rows;
    summary.bytes += outcome.bytes;
    summary.slowestRequestSeconds = Math.max(summary.slowestRequestSeconds, outcome.seconds);
    summary.requestSecondsTotal += outcome.seconds;
  } else if (outcome.kind === 'retry') summary.retrying++;
  else summary[outcome.kind]++;
}

function countEmail(summary: FulfillSummary, outcome: EmailOutcome): void {
  if (outcome === 'sent') summary.emailsSent++;
  if (outcome === 'failed') summary.emailsFailed++;
}

function exportContextOf(ctx: BuildContext, options: FulfillOptions): BuildRun {
  const { config } = ctx;
  return {
    config,
    entities: ctx.entities,
    user: ctx.user,
    files: ctx.files,
    exporterVersion: ctx.exporterVersion,
    schemaVersion: ctx.schemaVersion,
    signal: options.abortSignal ?? options.signal,
    heartbeatMs: options.heartbeatMs ?? Math.min(5_000, (config.claimTtlSeconds * 1000) / 4),
    onProgress: options.onProgress,
  };
}

/**
 * Where the slots take their requests from: the --request ids, all claimed at
 * once (those never started are handed back at the end), or the next
 * claimable request, one claim at a time.
 */
async function claimSource(deps: RunDeps, config: ExportConfig, options: FulfillOptions, summary: FulfillSummary) {
  if (options.requestIds) {
    const unstarted = await claimRequested(deps, options.requestIds, config, summary);
    return { next: async () => unstarted.shift(), unstarted };
  }
  return {
    next: () => claimNext(deps.db, config.claimTtlSeconds, config.maxAttempts),
    unstarted: [] as ClaimedRequest[],
  };
}

async function claimRequested(deps: RunDeps, ids: readonly string[], config: ExportConfig, summary: FulfillSummary) {
  const claimed = await claimByIds(deps.db, ids, config.claimTtlSeconds);
  const claimedIds = new Set(claimed.map((r) => r.id));
  const known = new Map(
    (
      await findRequests(
        deps.db,
        ids.filter((id) => !claimedIds.has(id)),
      )
    ).map((r) => [r.id, r]),
  );
  for (const id of ids) {
    if (claimedIds.has(id)) continue;
    const status = known.get(id)?.status;
    const reason =
      status === undefined
        ? 'no such request'
        : status === 'processing'
          ? 'being processed by another worker'
          : 'the user has another open request';
    summary.skipped.push({ id, reason });
    deps.log.warn({ requestId: id }, `request skipped: ${reason}`);
  }
  return claimed;
}

async function dryRun(deps: RunDeps, options: FulfillOptions, config: ExportConfig, summary: FulfillSummary) {
  const rows = options.requestIds
    ? await findRequests(deps.db, options.requestIds)
    : await listClaimable(deps.db, options.limit, config.maxAttempts);
  for (const r of rows) {
    summary.wouldBuild.push(r.id);
    deps.log.info({ requestId: r.id, userId: r.userId, status: r.status, dryRun: true }, 'would build');
  }
  if (options.requestIds) {
    const found = new Set(rows.map((r) => r.id));
    for (const id of options.requestIds) if (!found.has(id)) summary.skipped.push({ id, reason: 'no such request' });
  }
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}
