import type { Command } from 'commander';
import { sql } from 'kysely';
import type { RunDeps } from '../building/types.ts';
import { systemClock } from '../clock.ts';
import { POLL_FALLBACK_SECONDS } from '../config.ts';
import { nextRetryAt } from '../db/requests.ts';
import { smtpMailer } from '../email/mailer.ts';
import { NotReadyError, startHttpServer } from '../http-server.ts';
import { LiveMetrics } from '../live-metrics.ts';
import { recipientsOf, runFulfill } from '../passes/fulfill.ts';
import { type HousekeepingOptions, housekeepIfDue } from '../passes/housekeeping.ts';
import { IdleSlots } from '../worker/idle-slots.ts';
import { RequestListener } from '../worker/listener.ts';
import { Poller } from '../worker/poller.ts';
import { sleep, withTimeout } from '../worker/sleep.ts';
import { ALL_SETTINGS, type CommandTools, commandContext, returning, withRuntime, withSettings } from './common.ts';
import { fulfillConnections } from './fulfill.ts';
import { openFulfillContext } from './fulfill-context.ts';
import { progressReporter } from './progress.ts';

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
      const work = config.work;
      tools.stopper.setGrace(work.shutdownGraceSeconds * 1000);
      // Builds take three connections each (fulfillConnections); housekeeping and the readiness check one more each.
      await withRuntime(config, log, fulfillConnections(config) + 2, async (deps, schemaVersion) => {
        // Before anything is claimed: a definition that no longer matches the database builds nothing.
        const context = await openFulfillContext(deps.db, config, log, schemaVersion);
        const stopping = tools.stopper.signal;
        const passDeps = { ...deps, log: log.child({ pass: 'fulfill' }), clock: systemClock };
        const mailer = config.mail ? smtpMailer(config.mail.smtpUrl, config.mail.from) : undefined;
        const idle = new IdleSlots();
        const listener = work.pollOnly
          ? undefined
          : new RequestListener({
              databaseUrl: config.databaseUrl,
              onNotify: () => idle.wakeOne(),
              onListening: () => poller.reschedule(),
              log,
              signal: stopping,
            });
        const poller = new Poller({
          idle,
          intervalMs: () =>
            1000 *
            (listener?.healthy ? work.pollIntervalSeconds : Math.min(POLL_FALLBACK_SECONDS, work.pollIntervalSeconds)),
          nextRetryAt: () => nextRetryAt(deps.db),
          signal: stopping,
          onError: (error) => log.warn({ err: error }, 'could not read the next retry time'),
        });
        const metrics = new LiveMetrics(deps.db, () => listener?.healthy);
        const server =
          work.httpPort === undefined
            ? undefined
            : await startHttpServer(
                work.httpPort,
                {
                  metrics: metrics.registry,
                  async ready() {
                    await withTimeout(
                      sql`select 1`.execute(deps.db),
                      2_000,
                      'the database did not answer within 2 s',
                    ).catch((error: unknown) => {
                      throw new NotReadyError('the database does not answer', { cause: error });
                    });
                    if (listener && !listener.healthy)
                      throw new NotReadyError('not listening for new requests (LISTEN connection down)');
                  },
                },
                log,
              );
        const housekeeping = keepHouse(
          { ...passDeps, log },
          {
            intervalSeconds: work.housekeepingIntervalSeconds,
            maxAttempts: config.export.maxAttempts,
            auditRetentionSeconds: config.export.auditRetentionSeconds,
            mailer,
            recipients: recipientsOf(context.user),
            signal: stopping,
          },
        );
        log.info(
          {
            concurrency: config.export.concurrency,
            pollOnly: work.pollOnly,
            pollIntervalSeconds: work.pollIntervalSeconds,
            httpPort: work.httpPort,
          },
          'work started',
        );
        try {
          const progress = progressReporter(tools.io, passDeps.log);
          const summary = await runFulfill(passDeps, context, {
            limit: Number.MAX_SAFE_INTEGER,
            concurrency: config.export.concurrency,
            dryRun: false,
            signal: stopping,
            abortSignal: tools.stopper.abortBuilds,
            idle,
            mailer,
            onProgress: progress.update,
            observer: {
              started: () => metrics.buildStarted(),
              finished: (outcome) => {
                metrics.record(outcome);
                if (outcome.kind === 'retry') poller.reschedule(); // its retry time may be sooner than the next poll
              },
            },
          });
          log.info(summary, 'work stopped');
        } finally {
          await Promise.allSettled([poller.done, listener?.done, housekeeping]);
          server?.closeAllConnections();
          await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
          mailer?.close();
          context.close();
        }
      });
    }),
  );
}

/** Checks every so often whether the housekeeping is due (it runs once per interval across all workers). */
async function keepHouse(deps: RunDeps, options: HousekeepingOptions): Promise<void> {
  const checkEveryMs = Math.min(Math.max(1_000, (options.intervalSeconds * 1000) / 4), 300_000);
  while (!options.signal.aborted) {
    await housekeepIfDue(deps, options).catch((error: unknown) =>
      deps.log.error({ err: error }, 'housekeeping failed; it is retried at the next check'),
    );
    await sleep(checkEveryMs, options.signal);
  }
}
