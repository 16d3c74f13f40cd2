import { sql } from 'kysely';
import type { Db } from './connect.ts';
import { type ErasureFigures, erasureFigures } from './erasure-report.ts';

/** What a privacy officer reports on a period (docs/compliance.md: the report): every figure from the audit trail, so pruned requests still count. */
export interface PeriodReport {
  from: string;
  to: string;
  /** The moment the figures hold for: the period's end, or now (or --as-of) if that is earlier. */
  asOf: string;
  received: number;
  /** Ready (an archive was built) by asOf. */
  answered: number;
  /** Ready before the due date in force then (extensions counted). */
  answeredOnTime: number;
  answeredLate: number;
  /** Neither answered nor given up by asOf… */
  stillOpen: number;
  /** …of which past their due date at asOf. */
  overdue: number;
  /** Ended without an archive (failed for good, revoked, the user deleted) and not requeued since, by reason. */
  givenUp: number;
  givenUpReasons: Record<string, number>;
  /** Time from request to ready, over the answered requests; null when none. */
  medianSecondsToReady: number | null;
  p95SecondsToReady: number | null;
  /** Links signed by an operator (`exporter link`) for these requests by asOf. */
  linksSignedByOperators: number;
  revoked: number;
  extended: number;
  /** The erasures received in the period, on the same clock. */
  erasures: ErasureFigures;
}

/**
 * The figures for the requests received in [from, to), judged as of the
 * period's end or `asOf` (default now) if earlier. Read from the append-only
 * audit trail, never from the request rows (which change and are pruned):
 * the same period gives the same figures every time once it is over.
 */
export async function periodReport(db: Db, from: Date, to: Date, asOf?: Date): Promise<PeriodReport> {
  const { rows } = await sql<Record<string, unknown>>`
    with bounds as (
      select ${from.toISOString()}::timestamptz as from_at, ${to.toISOString()}::timestamptz as to_at,
             least(${to.toISOString()}::timestamptz, coalesce(${asOf?.toISOString() ?? null}::timestamptz, now())) as as_of
    ),
    requested as (
      select e.request_id, coalesce((e.detail->>'requested_at')::timestamptz, e.at) as requested_at
        from data_export_events e where e.event = 'requested'
    ),
    received as (
      select r.* from requested r, bounds b where r.requested_at >= b.from_at and r.requested_at < b.to_at
    ),
    events as (
      select e.* from data_export_events e join received r using (request_id), bounds b where e.at <= b.as_of
    ),
    judged as (
      select r.request_id, r.requested_at,
             (select min(e.at) from events e where e.request_id = r.request_id and e.event = 'built') as ready_at,
             (select e.id from events e where e.request_id = r.request_id and e.event in ('failed', 'revoked', 'deleted') order by e.id desc limit 1) as ended_id,
             (select max(e.id) from events e where e.request_id = r.request_id and e.event = 'requeued') as requeued_id
        from received r
    ),
    dated as (
      select j.*,
             -- The due date in force when it was answered (or at asOf): the last one set by then.
             (select (e.detail->>'due_at')::timestamptz from events e, bounds b
               where e.request_id = j.request_id and e.event in ('requested', 'extended') and e.at <= coalesce(j.ready_at, b.as_of)
               order by e.id desc limit 1) as due_at,
             case when j.ready_at is null and j.ended_id is not null and (j.requeued_id is null or j.requeued_id < j.ended_id)
                  then (select case e.event when 'revoked' then 'revoked' when 'deleted' then 'the user was deleted' else coalesce(e.detail->>'reason', 'failed') end
                          from events e where e.id = j.ended_id) end as given_up
        from judged j
    )
    select (select from_at from bounds) as "from", (select to_at from bounds) as "to", (select as_of from bounds) as "asOf",
           count(*)::int as received,
           count(ready_at)::int as answered,
           count(*) filter (where ready_at is not null and ready_at <= due_at)::int as "answeredOnTime",
           count(*) filter (where ready_at is not null and ready_at > due_at)::int as "answeredLate",
           count(*) filter (where ready_at is null and given_up is null)::int as "stillOpen",
           count(*) filter (where ready_at is null and given_up is null and due_at < (select as_of from bounds))::int as overdue,
           count(given_up)::int as "givenUp",
           coalesce((select jsonb_object_agg(reason, n) from (select given_up as reason, count(*)::int as n from dated where given_up is not null group by given_up) g), '{}') as "givenUpReasons",
           percentile_cont(0.5) within group (order by extract(epoch from ready_at - requested_at)) as "medianSecondsToReady",
           percentile_cont(0.95) within group (order by extract(epoch from ready_at - requested_at)) as "p95SecondsToReady",
           (select count(*)::int from events where event = 'link_signed' and detail->>'operator' = 'true') as "linksSignedByOperators",
           (select count(*)::int from events where event = 'revoked') as revoked,
           (select count(distinct request_id)::int from events where event = 'extended') as extended
      from dated`.execute(db);
  const r = rows[0]!;
  const seconds = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);
  return {
    ...(r as unknown as PeriodReport),
    erasures: await erasureFigures(db, from, to, r.asOf as Date),
    from: (r.from as Date).toISOString(),
    to: (r.to as Date).toISOString(),
    asOf: (r.asOf as Date).toISOString(),
    medianSecondsToReady: seconds(r.medianSecondsToReady),
    p95SecondsToReady: seconds(r.p95SecondsToReady),
  };
}
