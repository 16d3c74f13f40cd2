import type http from 'node:http';
import type { Command } from 'commander';
import { sql } from 'kysely';
import type { RunDeps } from '../building/types.ts';
import { type Config, POLL_FALLBACK_SECONDS } from '../config.ts';
import { nextRetryAt } from '../db/claims.ts';
import { recipientsOf } from '../db/notifications.ts';
import { NotReadyError, startHttpServer } from '../http-server.ts';
import { LiveMetrics } from '../live-metrics.ts';
import { runFulfill } from '../passes/fulfill.ts';
import { keepHouseEvery } from '../passes/housekeeping.ts';
import { IdleSlots } from '../worker/idle-slots.ts';
import { RequestListener } from '../worker/listener.ts';
import { Poller } from '../worker/poller.ts';
import { withTimeout } from '../worker/sleep.ts';
import { ALL_SETTINGS, type CommandTools, commandContext, returning, withSettings } from './common.ts';
import { eraseOptions } from './erase.ts';
import { progressReporter } from './progress.ts';
import { buildConnections, openBuildContext, openRun, type Run } from './run.ts';

/**
 * `exporter work`: the fulfill loop in continuous mode. Builds a request
 * within about a second of its insert (LISTEN/NOTIFY wakes an idle slot;
 * polling stays the source of truth), runs the housekeeping once per
 * interval across all workers, and on SIGTERM lets builds in flight finish
 * within the grace period before handing the rest back.
 */
export function registerWork(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('work')
      .description('run continuously: build each request minutes (usually a second) after it is made, and keep house'),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (_flags: unknown, cmd: Command) => {
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      tools.stopper.setGrace(config.work.shutdownGraceSeconds * 1000);
      // Builds take three connections each (buildConnections); housekeeping and the readiness check one more each.
      await openRun(config, log, { connections: buildConnections(config) + 2, mail: true }, (run) =>
        work(tools, config, run),
      );
      return undefined;
    }),
  );
}

/** The worker, from its start to its stop: what wakes its slots, its probes, its housekeeping, and the loop. */
async function work(tools: CommandTools, config: Config, run: Run): Promise<void> {
  const { deps } = run;
  const log = deps.log;
  // Before anything is claimed: a definition that no longer matches the database builds nothing.
  const context = await openBuildContext(deps.db, config, log, run.schemaVersion);
  const stopping = tools.stopper.signal;
  const fulfillDeps = { ...deps, log: log.child({ pass: 'fulfill' }) };
  const wake = wakeups(config, deps, stopping);
  const metrics = new LiveMetrics(deps.db, () => wake.listener?.healthy, deps.replica);
  const server = await probes(config, deps, metrics, wake.listener);
  const housekeeping = keepHouseEvery(deps, {
    intervalSeconds: config.work.housekeepingIntervalSeconds,
    maxAttempts: config.export.maxAttempts,
    auditRetentionSeconds: config.export.auditRetentionSeconds,
    mailer: run.mailer,
    recipients: recipientsOf(context.user),
    signal: stopping,
    erase: { context, options: { ...eraseOptions(config, stopping), ...(run.mailer ? { mailer: run.mailer } : {}) } },
  });
  const { concurrency } = config.export;
  const { pollOnly, pollIntervalSeconds, httpPort } = config.work;
  log.info({ concurrency, pollOnly, pollIntervalSeconds, httpPort }, 'work started');
  try {
    const summary = await runFulfill(fulfillDeps, context, {
      limit: Number.MAX_SAFE_INTEGER,
      concurrency,
      dryRun: false,
      signal: stopping,
      abortSignal: tools.stopper.abortBuilds,
      idle: wake.idle,
      mailer: run.mailer,
      onProgress: progressReporter(tools.io, fulfillDeps.log).update,
      observer: {
        started: () => metrics.buildStarted(),
        finished: (outcome) => {
          metrics.record(outcome);
          if (outcome.kind === 'retry') wake.poller.reschedule(); // its retry time may be sooner than the next poll
        },
      },
    });
    log.info(summary, 'work stopped');
  } finally {
    await Promise.allSettled([wake.poller.done, wake.listener?.done, housekeeping]);
    await closeServer(server);
    context.close();
  }
}

/** What wakes an idle slot: a notification of a new request (unless EXPORT_POLL_ONLY), and the poll, the source of truth. */
function wakeups(config: Config, deps: RunDeps, signal: AbortSignal) {
  const { pollOnly, pollIntervalSeconds } = config.work;
  const idle = new IdleSlots();
  const listener = pollOnly
    ? undefined
    : new RequestListener({
        databaseUrl: config.databaseUrl,
        onNotify: () => idle.wakeOne(),
        onListening: () => poller.reschedule(),
        log: deps.log,
        signal,
      });
  // While the listener is down, poll at least every POLL_FALLBACK_SECONDS.
  const seconds = () =>
    listener?.healthy ? pollIntervalSeconds : Math.min(POLL_FALLBACK_SECONDS, pollIntervalSeconds);
  const poller = new Poller({
    idle,
    intervalMs: () => 1000 * seconds(),
    nextRetryAt: () => nextRetryAt(deps.db),
    signal,
    onError: (error) => deps.log.warn({ err: error }, 'could not read the next retry time'),
  });
  return { idle, listener, poller };
}

/** /livez, /readyz (the database answers, the listener listens) and /metrics, where EXPORT_HTTP_PORT is set. */
async function probes(
  config: Config,
  deps: RunDeps,
  metrics: LiveMetrics,
  listener: RequestListener | undefined,
): Promise<http.Server | undefined> {
  if (config.work.httpPort === undefined) return undefined;
  const ready = async () => {
    await withTimeout(sql`select 1`.execute(deps.db), 2_000, 'the database did not answer within 2 s').catch(
      (error: unknown) => {
        throw new NotReadyError('the database does not answer', { cause: error });
      },
    );
    if (listener && !listener.healthy)
      throw new NotReadyError('not listening for new requests (LISTEN connection down)');
  };
  return startHttpServer(config.work.httpPort, { metrics: metrics.registry, ready }, deps.log);
}

async function closeServer(server: http.Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
