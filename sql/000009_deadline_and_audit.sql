-- The legal deadline and the audit trail (README: "The record a regulator asks for").
--
-- due_at: GDPR Art. 12(3) gives one month from receipt. The database computes
-- it, in UTC: the same day number of the next month, or that month's last day
-- when it has none (PostgreSQL's month arithmetic: 31 January -> 28 or 29
-- February). `exporter extend` moves it by one or two months beyond the
-- original (extended_months), never past three months after receipt.
alter table data_export_requests
  add column if not exists due_at timestamptz,
  add column if not exists extended_months integer not null default 0,
  add column if not exists archive_sha256 text;

create or replace function exporter_due_at(p_requested_at timestamptz, p_months integer default 1) returns timestamptz
language sql immutable strict as $$
  select ((p_requested_at at time zone 'UTC') + make_interval(months => p_months)) at time zone 'UTC'
$$;

update data_export_requests set due_at = exporter_due_at(requested_at, 1 + extended_months) where due_at is null;

-- Every request gets its due date when it is made, however it is made (the
-- SQL function, `exporter request`, a direct insert by the application).
create or replace function data_export_requests_due() returns trigger
language plpgsql as $$
begin
  new.due_at := exporter_due_at(new.requested_at, 1);
  new.extended_months := 0;
  return new;
end
$$;

drop trigger if exists data_export_requests_due on data_export_requests;
create trigger data_export_requests_due
  before insert on data_export_requests
  for each row execute function data_export_requests_due();

alter table data_export_requests alter column due_at set not null;

-- status and /metrics: open requests by due date.
create index if not exists data_export_requests_open_due_idx
  on data_export_requests (due_at) where status in ('pending', 'processing');

-- The audit trail: what happened to each request, when, and by whom. No
-- foreign key: it outlives the request row (pruning, a deleted user) and has
-- its own retention (EXPORT_AUDIT_RETENTION). It holds no link, no
-- signature and no secret: only the fields the triggers below put in it.
create table if not exists data_export_events (
  id          bigint generated always as identity primary key,
  request_id  uuid not null,
  user_id     text not null,
  at          timestamptz not null default clock_timestamp(),
  event       text not null check (event in (
                'requested', 'claimed', 'built', 'link_signed', 'email_sent', 'retrying',
                'failed', 'revoked', 'expired', 'requeued', 'extended', 'deleted')),
  actor       text not null,
  detail      jsonb not null default '{}'
);
create index if not exists data_export_events_request_idx on data_export_events (request_id, id);
create index if not exists data_export_events_at_idx on data_export_events (at);

-- Who and why, for the events of one transaction: operator commands set
-- exporter.actor (their --by) and exporter.reason (their --reason) with
-- set_config(…, true); `exporter request` sets exporter.via. Unset, the
-- actor is "exporter" for the worker's own steps and "application" for a
-- request the application made.
create or replace function exporter_event_actor(p_default text) returns text
language sql stable as $$
  select coalesce(nullif(current_setting('exporter.actor', true), ''), p_default)
$$;

create or replace function exporter_event_reason() returns text
language sql stable as $$
  select nullif(current_setting('exporter.reason', true), '')
$$;

-- The events ride in the statements that change the row: no round trip of their own.
create or replace function data_export_requests_events() returns trigger
language plpgsql as $$
declare
  actor text := exporter_event_actor('exporter');
  reason text := exporter_event_reason();
  context text;
begin
  if tg_op = 'INSERT' then
    -- Through what it was made: what `exporter request` said, else the intake
    -- function if it is the caller (the call stack says so), else a plain insert.
    get diagnostics context = pg_context;
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'requested', exporter_event_actor('application'),
            jsonb_build_object('via', coalesce(nullif(current_setting('exporter.via', true), ''),
                                               case when context like '%function exporter_request_export(%' then 'exporter_request_export()' else 'insert' end),
                               'requested_at', new.requested_at, 'due_at', new.due_at));
    return null;
  end if;
  if tg_op = 'DELETE' then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (old.id, old.user_id, 'deleted', actor, jsonb_build_object('status', old.status, 'reason', reason));
    return null;
  end if;
  if new.status is distinct from old.status then
    if new.status = 'processing' then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'claimed', actor, jsonb_build_object('attempt', new.attempts, 'rebuild', old.status = 'ready'));
    elsif new.status = 'ready' then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'built', actor, jsonb_build_object(
                'rows', (select coalesce(sum(value::bigint), 0) from jsonb_each_text(coalesce(new.row_counts, '{}'))),
                'bytes', new.archive_bytes, 'sha256', new.archive_sha256)),
             (new.id, new.user_id, 'link_signed', actor, jsonb_build_object(
                'expires_at', new.expires_at, 'seconds', round(extract(epoch from new.expires_at - new.completed_at))));
    elsif new.status = 'pending' and old.status = 'processing' then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'retrying', actor, jsonb_build_object('reason', new.error, 'not_before', new.not_before));
    elsif new.status = 'pending' then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'requeued', exporter_event_actor('operator'), jsonb_build_object('reason', reason, 'from', old.status));
    elsif new.status = 'failed' then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id,
              case new.error when 'revoked' then 'revoked' when 'expired' then 'expired' else 'failed' end,
              case new.error when 'revoked' then exporter_event_actor('operator') else actor end,
              case new.error when 'revoked' then jsonb_build_object('reason', reason) when 'expired' then '{}'::jsonb
                   else jsonb_build_object('reason', new.error) end);
    end if;
  end if;
  if new.notified_at is not null and old.notified_at is null then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'email_sent', actor, '{}');
  end if;
  if new.due_at is distinct from old.due_at then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'extended', exporter_event_actor('operator'),
            jsonb_build_object('due_at', new.due_at, 'previous_due_at', old.due_at, 'months', new.extended_months - old.extended_months, 'reason', reason));
  end if;
  return null;
end
$$;

drop trigger if exists data_export_requests_events_insert on data_export_requests;
create trigger data_export_requests_events_insert
  after insert on data_export_requests
  for each row execute function data_export_requests_events();
-- Progress beats and claim renewals change none of these columns: the trigger does not even run for them.
drop trigger if exists data_export_requests_events_update on data_export_requests;
create trigger data_export_requests_events_update
  after update of status, notified_at, due_at on data_export_requests
  for each row
  when (old.status is distinct from new.status or old.notified_at is distinct from new.notified_at or old.due_at is distinct from new.due_at)
  execute function data_export_requests_events();
drop trigger if exists data_export_requests_events_delete on data_export_requests;
create trigger data_export_requests_events_delete
  after delete on data_export_requests
  for each row execute function data_export_requests_events();

-- Append-only: an event is never changed, and deleted only by the retention
-- pass, which names its cut-off in exporter.audit_prune_before.
create or replace function data_export_events_append_only() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' and old.at < nullif(current_setting('exporter.audit_prune_before', true), '')::timestamptz then
    return old;
  end if;
  raise exception 'data_export_events is append-only (% refused)', lower(tg_op);
end
$$;

drop trigger if exists data_export_events_append_only on data_export_events;
create trigger data_export_events_append_only
  before update or delete on data_export_events
  for each row execute function data_export_events_append_only();
