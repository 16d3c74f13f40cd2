import { Gauge, Pushgateway, Registry } from 'prom-client';
import type { ErasureStatusReport } from './db/erasure-status.ts';
import type { Logger } from './log.ts';
import type { EraseSummary } from './passes/erase.ts';
import type { ExpireSummary } from './passes/expire.ts';
import type { FulfillSummary } from './passes/fulfill.ts';

export interface RunFigures {
  pass: 'fulfill' | 'expire' | 'nightly';
  fulfill?: FulfillSummary;
  expire?: ExpireSummary;
  erase?: EraseSummary;
  oldestPendingSeconds?: number | null;
  /** The legal deadline after the run (src/db/status.ts): open requests overdue, and seconds to the earliest due date (null: none open). */
  due?: { overdue: number; earliestDueSeconds: number | null };
  /** The erasures after the run: overdue ones, and those failed for good that nobody has answered since. */
  erasures?: Pick<ErasureStatusReport, 'overdue' | 'unresolved'>;
  /** false when the definition no longer matched the database, so nothing was built (nightly goes on with expire). */
  definitionOk?: boolean;
  succeeded: boolean;
}

/**
 * Pushes one run's figures to a Prometheus Pushgateway, as Prometheus advises
 * for batch jobs: gauges describing the last run, replaced on every push
 * (PUT), plus the time of the last success, so an alert can say "no
 * successful run for 26 hours" and a night that silently failed pages someone.
 * A push that fails is logged and never fails the run.
 */
export async function pushMetrics(url: string, figures: RunFigures, log: Logger): Promise<void> {
  const registry = new Registry();
  const gauge = gaugesIn(registry);
  const now = Date.now() / 1000;
  gauge('exporter_last_run_timestamp_seconds', 'When the last run finished.').set(now);
  if (figures.succeeded)
    gauge('exporter_last_success_timestamp_seconds', 'When the last run that fully succeeded finished.').set(now);
  gauge('exporter_last_run_success', '1 when the last run fully succeeded, else 0.').set(figures.succeeded ? 1 : 0);
  if (figures.fulfill) fulfillGauges(gauge, figures.fulfill);
  if (figures.expire) expireGauges(gauge, figures.expire);
  if (figures.erase) {
    const outcomes = gauge('exporter_erasures', 'Erasures handled by the last run, by outcome.', ['outcome']);
    for (const outcome of ['done', 'retrying', 'failed', 'lost', 'blocked'] as const)
      outcomes.set({ outcome }, figures.erase[outcome]);
  }
  stateGauges(gauge, figures);
  try {
    const gateway = new Pushgateway(url, { timeout: 5_000 }, registry);
    await gateway.push({ jobName: 'exporter', groupings: { pass: figures.pass } });
    log.debug({ grouping: { job: 'exporter', pass: figures.pass } }, 'metrics pushed');
  } catch (error) {
    // Never fails the run: the export work is done. A push that keeps failing
    // is caught by the alert on exporter_last_success_timestamp_seconds going stale.
    log.error({ err: error }, 'could not push metrics to the Pushgateway');
  }
}

type GaugeOf = (name: string, help: string, labelNames?: string[]) => Gauge;

/** A gauge in `registry` by its name; the same one again when asked twice (exporter_pass_seconds has a series per phase). */
function gaugesIn(registry: Registry): GaugeOf {
  return (name, help, labelNames = []) =>
    (registry.getSingleMetric(name) as Gauge | undefined) ??
    new Gauge({ name, help, labelNames, registers: [registry] });
}

// The label is `phase`, not `pass`: the Pushgateway's grouping key `pass`
// (nightly, fulfill, expire) overrides a series' own label of that name, so
// nightly's fulfill and expire series would collide and the push be refused.
const passSeconds = (gauge: GaugeOf) =>
  gauge('exporter_pass_seconds', 'Seconds each phase of the last run took.', ['phase']);

function fulfillGauges(gauge: GaugeOf, f: NonNullable<RunFigures['fulfill']>): void {
  const outcomes = gauge('exporter_requests', 'Requests handled by the last run, by outcome.', ['outcome']);
  for (const outcome of ['ready', 'retrying', 'failed', 'lost', 'released', 'abandoned'] as const)
    outcomes.set({ outcome }, f[outcome]);
  gauge('exporter_rows_written', 'Rows written into archives by the last run.').set(f.rows);
  gauge('exporter_bytes_written', 'Archive bytes uploaded by the last run.').set(f.bytes);
  passSeconds(gauge).set({ phase: 'fulfill' }, f.seconds);
  if (f.replicaFallbacks) {
    const fallbacks = gauge(
      'exporter_replica_fallbacks',
      'Builds of the last run that read from the primary although EXPORT_READ_DATABASE_URL is set, by reason: lagging (past EXPORT_REPLICA_MAX_LAG), unreachable, not_a_standby.',
      ['reason'],
    );
    for (const [reason, n] of Object.entries(f.replicaFallbacks)) fallbacks.set({ reason }, n);
  }
  if (f.ready > 0) {
    const per = gauge('exporter_request_seconds', 'Seconds per ready request in the last run.', ['stat']);
    per.set({ stat: 'mean' }, f.requestSecondsTotal / f.ready);
    per.set({ stat: 'max' }, f.slowestRequestSeconds);
  }
}

function expireGauges(gauge: GaugeOf, e: NonNullable<RunFigures['expire']>): void {
  gauge('exporter_requests_expired', 'Requests expired by the last run.').set(e.expired);
  const deleted = gauge('exporter_objects_deleted', 'Objects deleted by the last run, by reason.', ['reason']);
  deleted.set({ reason: 'expired' }, e.objectsDeleted);
  deleted.set({ reason: 'orphan' }, e.orphansDeleted);
  deleted.set({ reason: 'request_deleted' }, e.objectsOfDeletedRequests);
  gauge('exporter_uploads_aborted', 'Abandoned multipart uploads aborted by the last run.').set(e.uploadsAborted);
  passSeconds(gauge).set({ phase: 'expire' }, e.seconds);
}

/** The definition's health and the requests' state after the run. */
function stateGauges(gauge: GaugeOf, figures: RunFigures): void {
  if (figures.definitionOk !== undefined) {
    gauge(
      'exporter_definition_ok',
      '1 when the definition matched the database at the last run, 0 when it blocked every build (exporter check names why).',
    ).set(figures.definitionOk ? 1 : 0);
  }
  if (figures.due) {
    gauge('exporter_requests_overdue', 'Open requests past their legal due date after the run.').set(
      figures.due.overdue,
    );
    gauge(
      'exporter_earliest_due_seconds',
      'Seconds until the earliest due date of an open request after the run, negative when overdue (+Inf when none is open).',
    ).set(figures.due.earliestDueSeconds ?? Number.POSITIVE_INFINITY);
  }
  if (figures.erasures) erasureGauges(gauge, figures.erasures);
  if (figures.oldestPendingSeconds !== undefined) {
    gauge('exporter_oldest_pending_seconds', 'Age of the oldest pending request after the run (0 when none).').set(
      figures.oldestPendingSeconds ?? 0,
    );
  }
}

/** The two erasure gauges the alerts read (deploy/prometheus/alerts.yaml), the same as `exporter work` serves (src/live-metrics.ts). */
function erasureGauges(gauge: GaugeOf, e: NonNullable<RunFigures['erasures']>): void {
  gauge('exporter_erasures_overdue', 'Open erasures past their legal due date.').set(e.overdue);
  gauge(
    'exporter_erasures_failed',
    'Erasures failed for good (a residue found, or no attempts left) that no later erasure of the person has answered.',
  ).set(e.unresolved.length);
}
