-- The right to erasure (GDPR Art. 17; docs/erasure.md): a request of its own,
-- on the same clock as an export's, carried out by nightly and work from the
-- definition's erase rules.

create table if not exists data_export_erasures (
  id               uuid primary key default gen_random_uuid(),
  user_id          text not null,
  status           text not null default 'pending'
                   check (status in ('pending', 'processing', 'done', 'failed', 'cancelled')),
  requested_at     timestamptz not null default now(),
  -- The end of the grace period: before it the erasure may be cancelled and is not started.
  not_before       timestamptz not null default now(),
  due_at           timestamptz,
  reason           text not null check (length(reason) between 1 and 500),
  requested_by     text not null check (length(requested_by) between 1 and 500),
  claim_id         uuid,
  claim_expires_at timestamptz,
  attempts         integer not null default 0,
  -- Where each entity's erasure stands (a cursor per entity): a run that stops resumes there.
  progress         jsonb not null default '{}',
  -- What was done, entity by entity, in counts (never the data).
  receipt          jsonb,
  error            text,
  started_at       timestamptz,
  completed_at     timestamptz,
  -- --export-first: the person's last export, built first; the erasure waits until its link has
  -- ended (expired, revoked, failed) or the application says the person downloaded it.
  after_export     uuid,
  export_downloaded_at timestamptz,
  -- The receipt by email (when email is on): the address read from the user row before it is erased,
  -- kept only until the receipt is sent (or given up on), then dropped.
  receipt_email    text,
  receipt_email_attempts integer not null default 0,
  receipt_sent_at  timestamptz,
  -- exporter extend: months added to the due date (at most 2 in all, decided within the first month), as an export's.
  extended_months  integer not null default 0
);
create unique index if not exists data_export_erasures_one_open on data_export_erasures (user_id)
  where status in ('pending', 'processing');
create index if not exists data_export_erasures_due on data_export_erasures (not_before) where status = 'pending';

-- The values an anonymization replaced, as hashes, with the row they were in,
-- until the proof has checked none is left; then deleted.
create table if not exists data_export_erasure_values (
  erasure_id  uuid not null references data_export_erasures (id) on delete cascade,
  entity      text not null,
  row_key     text not null,
  column_name text not null,
  sha256      text not null
);
create index if not exists data_export_erasure_values_idx on data_export_erasure_values (erasure_id, entity, column_name);

-- Who has been erased, by a hash of their key alone: a new export for them is refused.
create table if not exists data_export_erased (
  user_sha256 text primary key,
  erased_at   timestamptz not null default now()
);

-- The due date: a month after the request, as an export's (extendable the same way).
create or replace function data_export_erasures_due() returns trigger
language plpgsql as $$
begin
  new.requested_at := least(coalesce(new.requested_at, now()), now());
  new.due_at := coalesce(new.due_at, exporter_due_at(new.requested_at));
  return new;
end
$$;
drop trigger if exists data_export_erasures_due on data_export_erasures;
create trigger data_export_erasures_due before insert on data_export_erasures
  for each row execute function data_export_erasures_due();

-- The trail records an erasure's steps as it does an export's.
alter table data_export_events drop constraint if exists data_export_events_event_check;
alter table data_export_events add constraint data_export_events_event_check check (event in (
  'requested', 'claimed', 'built', 'link_signed', 'email_sent', 'retrying',
  'failed', 'revoked', 'expired', 'requeued', 'extended', 'deleted', 'changed', 'pruned',
  'erasure_requested', 'erasure_started', 'erased', 'erasure_failed', 'erasure_cancelled', 'erasure_retrying'));

create or replace function data_export_erasures_events() returns trigger
language plpgsql security definer as $$
declare
  actor text := exporter_event_actor('exporter');
begin
  perform exporter_trail_guard();
  if tg_op = 'INSERT' then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'erasure_requested', new.requested_by,
            jsonb_build_object('reason', new.reason, 'requested_at', new.requested_at, 'due_at', new.due_at,
                               'not_before', new.not_before, 'after_export', new.after_export));
    return null;
  end if;
  if new.status is not distinct from old.status then
    if new.due_at is distinct from old.due_at and new.extended_months > old.extended_months then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'extended', exporter_event_actor('operator'),
              jsonb_build_object('due_at', new.due_at, 'previous_due_at', old.due_at,
                                 'months', new.extended_months - old.extended_months, 'reason', exporter_event_reason()));
      return null;
    end if;
    -- What says whose erasure it is, why, by when and what it did changes only with a trace.
    if (new.user_id, new.reason, new.requested_by, new.requested_at, new.due_at, new.receipt, new.after_export)
       is distinct from (old.user_id, old.reason, old.requested_by, old.requested_at, old.due_at, old.receipt, old.after_export) then
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'changed', exporter_event_actor('unknown'),
              jsonb_build_object('erasure', true, 'user_id', jsonb_build_object('from', old.user_id, 'to', new.user_id),
                                 'due_at', jsonb_build_object('from', old.due_at, 'to', new.due_at),
                                 'receipt_changed', new.receipt is distinct from old.receipt));
    end if;
    return null;
  end if;
  insert into data_export_events (request_id, user_id, event, actor, detail)
  values (new.id, new.user_id,
          case new.status when 'processing' then 'erasure_started' when 'done' then 'erased'
                          when 'failed' then 'erasure_failed' when 'cancelled' then 'erasure_cancelled'
                          else 'erasure_retrying' end,
          case new.status when 'cancelled' then exporter_event_actor('operator') else actor end,
          case new.status when 'processing' then jsonb_build_object('attempt', new.attempts)
                          when 'done' then jsonb_build_object('receipt', new.receipt)
                          when 'cancelled' then jsonb_build_object('reason', exporter_event_reason())
                          else jsonb_build_object('reason', new.error) end);
  return null;
end
$$;
drop trigger if exists data_export_erasures_events on data_export_erasures;
create trigger data_export_erasures_events after insert or update on data_export_erasures
  for each row execute function data_export_erasures_events();

-- An erasure is never emptied unseen either.
create or replace function data_export_erasures_no_truncate() returns trigger
language plpgsql as $$
begin
  raise exception 'data_export_erasures cannot be truncated: an erasure is a record the regulator may ask for';
end
$$;
drop trigger if exists data_export_erasures_no_truncate on data_export_erasures;
create trigger data_export_erasures_no_truncate before truncate on data_export_erasures
  for each statement execute function data_export_erasures_no_truncate();

-- A new export of someone erased is refused (their key, by its hash).
create or replace function data_export_requests_not_erased() returns trigger
language plpgsql as $$
begin
  if exists (select 1 from data_export_erased e where e.user_sha256 = encode(sha256(convert_to(new.user_id, 'UTF8')), 'hex')) then
    raise exception 'user % has been erased: there is nothing of theirs to export', new.user_id
      using errcode = 'P0002';
  end if;
  -- Nor while their erasure is under way: an archive of half-erased data, built beside it, would outlive it.
  if exists (select 1 from data_export_erasures e where e.user_id = new.user_id and e.status = 'processing') then
    raise exception 'user % is being erased: no export of them can be made now', new.user_id
      using errcode = 'P0002';
  end if;
  return new;
end
$$;
drop trigger if exists data_export_requests_not_erased on data_export_requests;
create trigger data_export_requests_not_erased before insert on data_export_requests
  for each row execute function data_export_requests_not_erased();

-- Whether an erasure may start: its grace period over and, with --export-first, the last export's link
-- ended or downloaded. The one test the claim, the erase pass and the status all use.
create or replace function exporter_erasure_may_start(p_not_before timestamptz, p_after_export uuid, p_downloaded timestamptz)
returns boolean
language sql stable as $$
  select p_not_before <= now()
     and (p_after_export is null or p_downloaded is not null
          or not exists (select 1 from data_export_requests r
                          where r.id = p_after_export and r.status in ('pending', 'processing', 'ready')))
$$;

-- The application says the person has downloaded their last export: an erasure waiting on it may start.
create or replace function exporter_export_downloaded(p_request_id uuid) returns integer
language plpgsql as $$
declare
  n integer;
begin
  update data_export_erasures set export_downloaded_at = now()
   where after_export = p_request_id and status = 'pending' and export_downloaded_at is null;
  get diagnostics n = row_count;
  return n;
end
$$;

-- The application's intake: erase this user, after a grace period in which it can be cancelled; with
-- p_export_first, after a last export of everything they have (docs/erasure.md).
drop function if exists exporter_request_erasure(text, text, interval);
create or replace function exporter_request_erasure(p_user_id text, p_reason text, p_grace interval default interval '0',
                                                    p_export_first boolean default false)
returns table (erasure_id uuid, outcome text, export_request_id uuid)
language plpgsql as $$
declare
  canonical text := exporter_user_key(p_user_id);
  existing uuid;
  export_id uuid;
begin
  if canonical is null or not exporter_user_exists(canonical) then
    return query select null::uuid, 'no-such-user'::text;
    return;
  end if;
  if exists (select 1 from data_export_erased x where x.user_sha256 = encode(sha256(convert_to(canonical, 'UTF8')), 'hex')) then
    -- Erased already (a tombstone row may remain): a second erasure would pseudonymize the pseudonyms.
    return query select null::uuid, 'already-erased'::text, null::uuid;
    return;
  end if;
  select e.id, e.after_export into existing, export_id
    from data_export_erasures e where e.user_id = canonical and e.status in ('pending', 'processing');
  if existing is not null then
    return query select existing, 'already-open'::text, export_id;
    return;
  end if;
  if p_export_first then
    -- A new export now (one already being built is the last one already).
    select coalesce(x.request_id, x.previous_request_id) into export_id
      from exporter_request_export(canonical, interval '0') x;
  end if;
  return query
    insert into data_export_erasures (user_id, reason, requested_by, not_before, after_export)
    values (canonical, p_reason, exporter_event_actor('application'), now() + greatest(p_grace, interval '0'), export_id)
    returning id, 'created'::text, after_export;
end
$$;

-- The trail's guards (000010) cover the erasure's tables too: the exporter's role changes them, so a
-- trigger another role wrote on them would run as that role, and TRIGGER or TRUNCATE held by another
-- role would let it empty or watch them. One list for the guard and for migrate's hardening.
create or replace function exporter_guarded_tables() returns regclass[]
language sql stable as $$
  select array['data_export_events'::regclass, 'data_export_audit_head'::regclass, 'data_export_requests'::regclass,
               'data_export_erasures'::regclass, 'data_export_erasure_values'::regclass, 'data_export_erased'::regclass]
$$;

create or replace function exporter_trail_guard() returns void
language plpgsql security definer as $$
declare
  found text;
  owner oid := (select c.relowner from pg_class c where c.oid = 'data_export_events'::regclass);
begin
  select format('trigger %s on %s', t.tgname, t.tgrelid::regclass) into found
    from pg_trigger t join pg_proc f on f.oid = t.tgfoid
   where t.tgrelid = any(exporter_guarded_tables()) and not t.tgisinternal and f.proowner <> owner
   limit 1;
  if found is not null then
    raise exception 'the audit trail refuses to work: % runs code the exporter did not write, as the exporter''s role; drop it', found;
  end if;
  select format('%s on %s held by %s', a.privilege_type, c.relname, case when a.grantee = 0 then 'PUBLIC' else a.grantee::regrole::text end) into found
    from pg_class c, aclexplode(c.relacl) a
   where c.oid = any(exporter_guarded_tables()) and a.grantee <> c.relowner
     and (a.privilege_type in ('TRIGGER', 'TRUNCATE')
          or (a.privilege_type = 'REFERENCES' and c.oid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass)))
   limit 1;
  if found is not null then
    raise exception 'the audit trail refuses to work: % (run exporter migrate, which revokes it)', found;
  end if;
  select format('%s references %s', c.conrelid::regclass, c.confrelid::regclass) into found
    from pg_constraint c where c.contype = 'f' and c.confrelid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass)
   limit 1;
  if found is not null then
    raise exception 'the audit trail refuses to work: % (a foreign key onto the trail blocks its retention); drop it', found;
  end if;
end
$$;

create or replace function exporter_harden_trail() returns void
language plpgsql as $$
declare
  r record;
begin
  for r in
    select c.oid::regclass::text as rel, a.privilege_type as privilege,
           case when a.grantee = 0 then 'public' else quote_ident(a.grantee::regrole::text) end as grantee
      from pg_class c, aclexplode(c.relacl) a
     where c.oid = any(exporter_guarded_tables()) and a.grantee <> c.relowner
       and (a.privilege_type in ('TRIGGER', 'TRUNCATE')
            or (a.privilege_type = 'REFERENCES' and c.oid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass)))
  loop
    execute format('revoke %s on %s from %s', r.privilege, r.rel, r.grantee);
  end loop;
end
$$;

do $$
begin
  execute format('alter function data_export_erasures_events() set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function data_export_requests_not_erased() set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function exporter_request_erasure(text, text, interval, boolean) set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function exporter_erasure_may_start(timestamptz, uuid, timestamptz) set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function exporter_export_downloaded(uuid) set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function exporter_guarded_tables() set search_path = pg_catalog, %I, pg_temp', current_schema());
  -- Replaced above, so their settings are said again (a replaced function keeps none).
  execute format('alter function exporter_trail_guard() set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function exporter_harden_trail() set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function data_export_erasures_due() set search_path = pg_catalog, %I, pg_temp', current_schema());
  execute format('alter function data_export_erasures_no_truncate() set search_path = pg_catalog, %I, pg_temp', current_schema());
end
$$;
