-- A request that failed for a passing reason is retried after a backoff, not
-- at once and not only "next night": not_before is when it may be claimed
-- again. Both modes (the nightly batch and `exporter work`) share one claim
-- query that skips a request until then.
alter table data_export_requests add column if not exists not_before timestamptz;

drop index if exists data_export_requests_pending_idx;
create index if not exists data_export_requests_pending_idx
  on data_export_requests (requested_at) where status = 'pending';
create index if not exists data_export_requests_not_before_idx
  on data_export_requests (not_before) where status = 'pending' and not_before is not null;

-- The wake-up: every statement that inserts requests tells idle workers
-- (LISTEN exporter_requests) at commit, so a request made now is built within
-- a second. Only a hint: workers also poll, and NOTIFY folds a transaction's
-- identical notifications into one.
create or replace function data_export_requests_notify() returns trigger
language plpgsql as $$
begin
  perform pg_notify('exporter_requests', '');
  return null;
end
$$;

drop trigger if exists data_export_requests_notify on data_export_requests;
create trigger data_export_requests_notify
  after insert on data_export_requests
  for each statement execute function data_export_requests_notify();

-- Intake for any application, in any language: one call, the same rules as
-- `exporter request` and createRequest(). At most one request that has not
-- failed per user within the window (an open one blocks until it ends, even
-- past the window); the check and the insert run under a transaction-scoped
-- advisory lock on the user, so two calls at the same instant are serialized;
-- the partial unique index on open requests backs it up; the insert wakes the
-- workers. Returns one row:
--   outcome 'created':      request_id, requested_at
--   outcome 'rate-limited': previous_request_id, requested_at (of that one), retry_after
--   outcome 'no-such-user'
create or replace function exporter_request_export(p_user_id uuid, p_window interval default interval '24 hours')
returns table (outcome text, request_id uuid, requested_at timestamptz, retry_after timestamptz, previous_request_id uuid)
language plpgsql as $$
declare
  previous record;
begin
  perform pg_advisory_xact_lock(hashtextextended('exporter:intake:' || p_user_id::text, 0));
  if not exists (select 1 from users u where u.id = p_user_id) then
    return query select 'no-such-user'::text, null::uuid, null::timestamptz, null::timestamptz, null::uuid;
    return;
  end if;
  select r.id, r.requested_at into previous
    from data_export_requests r
   where r.user_id = p_user_id
     and (r.status in ('pending', 'processing') or (r.status = 'ready' and r.requested_at > now() - p_window))
   order by r.requested_at desc
   limit 1;
  if found then
    return query select 'rate-limited'::text, null::uuid, previous.requested_at,
      greatest(previous.requested_at + p_window, now()), previous.id;
    return;
  end if;
  return query
    insert into data_export_requests as r (user_id) values (p_user_id)
    returning 'created'::text, r.id, r.requested_at, null::timestamptz, null::uuid;
end
$$;

-- Housekeeping inside `exporter work` (expire, sweep, owed emails, failing
-- abandoned requests) runs at most once per interval across all workers:
-- under an advisory lock, and only when last_run_at says it is due.
create table if not exists data_export_housekeeping (
  name        text primary key,
  last_run_at timestamptz not null
);
