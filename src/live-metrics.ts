import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestOutcome } from './building/types.ts';
import type { Db } from './db/connect.ts';
import { type StatusReport, statusReport } from './db/status.ts';
import type { FallbackReason, ReplicaReads } from './snapshot/replica-reads.ts';

/**
 * The metrics `exporter work` serves at /metrics for Prometheus to scrape (a
 * long-running process is scraped; the batch commands push to a Pushgateway
 * instead, src/metrics.ts). Counters since the process started, a histogram
 * of build times, and two gauges read when scraped.
 */
export class LiveMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'outcome'>;
  private readonly rows: Counter;
  private readonly bytes: Counter;
  private readonly buildSeconds: Histogram;
  private readonly inFlight: Gauge;

  constructor(db: Db, listening: () => boolean | undefined, replica?: ReplicaReads) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'exporter_requests_total',
      help: 'Requests handled, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['ready', 'retry', 'failed', 'lost', 'released']) this.requests.inc({ outcome }, 0);
    this.rows = new Counter({
      name: 'exporter_rows_written_total',
      help: 'Rows written into archives (each row once per format).',
      registers,
    });
    this.bytes = new Counter({ name: 'exporter_bytes_written_total', help: 'Archive bytes uploaded.', registers });
    this.buildSeconds = new Histogram({
      name: 'exporter_build_seconds',
      help: 'Seconds from claim to ready, per ready request.',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.inFlight = new Gauge({ name: 'exporter_builds_in_flight', help: 'Requests being built now.', registers });
    // The gauges read from the database share one status report per scrape (kept for a second).
    let report: Promise<StatusReport> | undefined;
    const scrapedReport = () =>
      (report ??= statusReport(db).finally(() => setTimeout(() => (report = undefined), 1000).unref()));
    new Gauge({
      name: 'exporter_oldest_pending_seconds',
      help: 'Age of the oldest pending request (0 when none).',
      registers,
      async collect() {
        this.set((await scrapedReport()).oldestPendingSeconds ?? 0);
      },
    });
    new Gauge({
      name: 'exporter_requests_overdue',
      help: 'Open requests past their legal due date.',
      registers,
      async collect() {
        this.set((await scrapedReport()).overdue);
      },
    });
    new Gauge({
      name: 'exporter_earliest_due_seconds',
      help: 'Seconds until the earliest due date of an open request, negative when overdue (+Inf when none is open).',
      registers,
      async collect() {
        this.set((await scrapedReport()).earliestDueSeconds ?? Number.POSITIVE_INFINITY);
      },
    });
    new Gauge({
      name: 'exporter_erasures_overdue',
      help: 'Open erasures past their legal due date.',
      registers,
      async collect() {
        this.set((await scrapedReport()).erasures.overdue);
      },
    });
    new Gauge({
      name: 'exporter_erasures_failed',
      help: 'Erasures failed for good (a residue found, or no attempts left) that no later erasure of the person has answered.',
      registers,
      async collect() {
        this.set((await scrapedReport()).erasures.unresolved.length);
      },
    });
    new Gauge({
      name: 'exporter_listen_healthy',
      help: '1 while the LISTEN connection is up (absent in poll-only mode).',
      registers,
      collect() {
        const healthy = listening();
        if (healthy !== undefined) this.set(healthy ? 1 : 0);
      },
    });
    if (replica) replicaFallbacks(registers, replica);
  }

  buildStarted(): void {
    this.inFlight.inc();
  }

  record(outcome: RequestOutcome): void {
    this.inFlight.dec();
    this.requests.inc({ outcome: outcome.kind });
    if (outcome.kind === 'ready') {
      this.rows.inc(outcome.rows);
      this.bytes.inc(outcome.bytes);
      this.buildSeconds.observe(outcome.seconds);
    }
  }
}

/** Builds that read from the primary although a replica is set, by reason: counted by ReplicaReads, handed on when scraped. */
function replicaFallbacks(registers: Registry[], replica: ReplicaReads): void {
  const seen: Record<FallbackReason, number> = { lagging: 0, unreachable: 0, not_a_standby: 0 };
  new Counter({
    name: 'exporter_replica_fallbacks_total',
    help: 'Builds that read from the primary although EXPORT_READ_DATABASE_URL is set, by reason: lagging (past EXPORT_REPLICA_MAX_LAG), unreachable, not_a_standby.',
    labelNames: ['reason'],
    registers,
    collect() {
      for (const reason of Object.keys(seen) as FallbackReason[]) {
        this.inc({ reason }, replica.fallbacks[reason] - seen[reason]);
        seen[reason] = replica.fallbacks[reason];
      }
    },
  });
}
