-- A trail that can be trusted (README: the record a regulator asks for).
-- What 000009 left open: any role with the privilege could TRUNCATE the
-- trail, insert events with any time and actor, or delete every event by
-- setting the retention's session setting; changing a ready request's user,
-- key, link or expiry wrote no event.
--
-- 1. Only the exporter's own role writes the trail. The role that runs
--    `exporter migrate` owns it; an event is inserted only by that role
--    (current_user), from a trigger on the requests or from
--    exporter_record_event(), never by a plain INSERT; UPDATE and TRUNCATE are
--    refused to everyone (but the sealing below), DELETE but through
--    exporter_prune_audit(). The request triggers run as the owner (SECURITY
--    DEFINER), so an application role that may change requests writes their
--    events without any privilege on the trail. A trigger or a privilege that
--    would let another role run code as the owner, or empty the tables (a
--    trigger of its own on them, TRIGGER, TRUNCATE or REFERENCES held by
--    another role, a foreign key onto the trail), stops every change of a
--    request until `exporter migrate` revokes it (exporter_trail_guard()).
-- 2. Tamper-evident: once sealed, each event carries `seq` (1, 2, 3, … with
--    no gap), the SHA-256 of the event before it and its own SHA-256 over its
--    content (its id included) as PostgreSQL's json_build_array writes it.
--    Events are written unsealed, with no lock shared by two requests;
--    exporter_seal_trail() numbers and hashes them in the order they were
--    written, a batch at a time, from the exporter's runs (every fulfill and
--    expire, and work's housekeeping). The head of the chain is written to
--    object storage every day (src/passes/anchor.ts), where the database
--    cannot change it; `exporter audit verify` recomputes the chain and checks
--    it against those anchors.
-- 3. `at` is the database's clock and `db_role` the login role, whatever the
--    inserting statement says.

alter table data_export_events
  add column if not exists seq bigint,
  add column if not exists prev_sha256 text,
  add column if not exists sha256 text,
  add column if not exists db_role text;
-- The trail's own events (a retention cut) belong to no request.
alter table data_export_events alter column request_id drop not null, alter column user_id drop not null;
alter table data_export_events drop constraint if exists data_export_events_event_check;
alter table data_export_events add constraint data_export_events_event_check check (event in (
  'requested', 'claimed', 'built', 'link_signed', 'email_sent', 'retrying',
  'failed', 'revoked', 'expired', 'requeued', 'extended', 'deleted', 'changed', 'pruned'));

-- The newest event's number and hash; its row lock orders every append.
create table if not exists data_export_audit_head (
  only_one boolean primary key default true check (only_one),
  seq bigint not null,
  sha256 text not null
);

-- An event's content as its hash covers it: every field, as json_build_array
-- writes it (strings escaped, detail as jsonb's canonical text), the time in
-- UTC to the microsecond. `exporter audit verify` computes the same text in
-- its own query (src/db/audit-chain.ts) and the hash in Node.
create or replace function exporter_event_sha256(p_prev text, p_seq bigint, p_id bigint, p_request uuid, p_user text, p_at timestamptz,
                                                 p_event text, p_actor text, p_role text, p_detail jsonb) returns text
language sql immutable as $$
  select encode(pg_catalog.sha256(convert_to(pg_catalog.json_build_array(
    p_prev, p_seq, p_id, p_request, p_user, to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    p_event, p_actor, p_role, p_detail)::text, 'UTF8')), 'hex')
$$;

insert into data_export_audit_head (seq, sha256) select 0, repeat('0', 64) where not exists (select 1 from data_export_audit_head);
alter table data_export_events alter column db_role set default 'before-000010';
update data_export_events set db_role = 'before-000010' where db_role is null;
alter table data_export_events alter column db_role set not null, alter column db_role drop default;
create unique index if not exists data_export_events_seq_idx on data_export_events (seq);
-- The events the next seal takes, oldest first.
create index if not exists data_export_events_unsealed_idx on data_export_events (id) where seq is null;

-- Whether the role acting now is the trail's owner (the exporter's role).
create or replace function exporter_trail_owner() returns boolean
language sql stable as $$
  select current_user = (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = 'data_export_events'::regclass)
$$;

-- Every append: by the owner, from a trigger or exporter_record_event(); timed and named here, numbered and hashed when sealed.
create or replace function data_export_events_chain() returns trigger
language plpgsql as $$
declare
  context text;
begin
  get diagnostics context = pg_context;
  if not exporter_trail_owner() then
    raise exception 'data_export_events is written by the exporter only (insert by % refused)', current_user;
  end if;
  -- A plain substring, never a LIKE pattern (whose _ matches anything). Only the owner gets here, whose own code it is.
  if pg_trigger_depth() < 2 and position('function exporter_record_event(' in context) = 0 and position('function exporter_prune_audit(' in context) = 0 then
    raise exception 'data_export_events is written by the exporter only (a plain insert is refused)';
  end if;
  new.seq := null;
  new.prev_sha256 := null;
  new.sha256 := null;
  new.at := clock_timestamp();
  new.db_role := session_user;
  return new;
end
$$;

drop trigger if exists data_export_events_chain on data_export_events;
create trigger data_export_events_chain
  before insert on data_export_events
  for each row execute function data_export_events_chain();

-- A definer function says, for the rest of its transaction, that it is the
-- one writing: exporter_seal_trail() (which numbers and hashes events) or
-- exporter_prune_audit() (which deletes old ones). Only the owner passes the
-- guards below at all, so only the owner's own code could say so.
create or replace function exporter_trail_writer() returns text
language sql stable as $$
  select split_part(coalesce(current_setting('exporter.trail_writer', true), ''), ':', 1)
   where split_part(coalesce(current_setting('exporter.trail_writer', true), ''), ':', 2) = txid_current()::text
$$;

-- Never changed, but sealed once (seq, prev_sha256 and sha256 set where they
-- were null, nothing else); deleted only by the retention, through its
-- function, and only past the shortest retention allowed.
create or replace function data_export_events_append_only() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and exporter_trail_owner() and exporter_trail_writer() = 'seal' and old.seq is null and new.seq is not null
     and (new.id, new.request_id, new.user_id, new.at, new.event, new.actor, new.detail, new.db_role)
         is not distinct from (old.id, old.request_id, old.user_id, old.at, old.event, old.actor, old.detail, old.db_role) then
    return new;
  end if;
  if tg_op = 'DELETE' and exporter_trail_owner() and exporter_trail_writer() = 'prune' and old.seq is not null and old.at < now() - interval '30 days' then
    return old;
  end if;
  raise exception 'data_export_events is append-only (% refused)', lower(tg_op);
end
$$;

drop trigger if exists data_export_events_append_only on data_export_events;
create trigger data_export_events_append_only
  before update or delete on data_export_events
  for each row execute function data_export_events_append_only();
drop trigger if exists data_export_events_no_truncate on data_export_events;
create trigger data_export_events_no_truncate
  before truncate on data_export_events
  for each statement execute function data_export_events_append_only();

-- The head is the chain's: only the seal moves it.
create or replace function data_export_audit_head_guard() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and exporter_trail_owner() and exporter_trail_writer() = 'seal' then
    return new;
  end if;
  raise exception 'data_export_audit_head is the audit trail''s (% refused)', lower(tg_op);
end
$$;
drop trigger if exists data_export_audit_head_guard on data_export_audit_head;
create trigger data_export_audit_head_guard
  before update or delete on data_export_audit_head
  for each row execute function data_export_audit_head_guard();
drop trigger if exists data_export_audit_head_no_truncate on data_export_audit_head;
create trigger data_export_audit_head_no_truncate
  before truncate on data_export_audit_head
  for each statement execute function data_export_audit_head_guard();

-- What would let another role run code as the trail's owner, or empty it
-- unseen: a trigger on the exporter's tables whose function the owner did not
-- write (a request trigger, run as the owner, fires it), TRIGGER or TRUNCATE
-- held by another role on them, REFERENCES on the trail (a row pointing at an
-- event blocks the retention), a foreign key onto the trail. Any of them stops
-- every change of a request, with what to do, until `exporter migrate`
-- revokes the privileges (it drops nothing of anyone's: a trigger must be
-- dropped by whoever made it). The effects of a foreign trigger that ran first
-- go with the refused statement's transaction.
create or replace function exporter_trail_guard() returns void
language plpgsql security definer as $$
declare
  found text;
  owner oid := (select c.relowner from pg_class c where c.oid = 'data_export_events'::regclass);
begin
  select format('trigger %s on %s', t.tgname, t.tgrelid::regclass) into found
    from pg_trigger t join pg_proc f on f.oid = t.tgfoid
   where t.tgrelid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass, 'data_export_requests'::regclass)
     and not t.tgisinternal and f.proowner <> owner
   limit 1;
  if found is not null then
    raise exception 'the audit trail refuses to work: % runs code the exporter did not write, as the exporter''s role; drop it', found;
  end if;
  select format('%s on %s held by %s', a.privilege_type, c.relname, case when a.grantee = 0 then 'PUBLIC' else a.grantee::regrole::text end) into found
    from pg_class c, aclexplode(c.relacl) a
   where c.oid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass, 'data_export_requests'::regclass)
     and a.grantee <> c.relowner
     and (a.privilege_type in ('TRIGGER', 'TRUNCATE') or (a.privilege_type = 'REFERENCES' and c.oid <> 'data_export_requests'::regclass))
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

-- Revokes what exporter_trail_guard() refuses, from every role but the owner: run by every `exporter migrate`.
create or replace function exporter_harden_trail() returns void
language plpgsql as $$
declare
  r record;
begin
  for r in
    select c.oid::regclass::text as rel, a.privilege_type as privilege,
           case when a.grantee = 0 then 'public' else quote_ident(a.grantee::regrole::text) end as grantee
      from pg_class c, aclexplode(c.relacl) a
     where c.oid in ('data_export_events'::regclass, 'data_export_audit_head'::regclass, 'data_export_requests'::regclass)
       and a.grantee <> c.relowner
       and (a.privilege_type in ('TRIGGER', 'TRUNCATE') or (a.privilege_type = 'REFERENCES' and c.oid <> 'data_export_requests'::regclass))
  loop
    execute format('revoke %s on %s from %s', r.privilege, r.rel, r.grantee);
  end loop;
end
$$;

-- Numbers and hashes the events written since the last seal, in the order
-- they were written (at most p_max, the oldest first): the chain. Sealers
-- wait on each other at the head; nothing else does.
create or replace function exporter_seal_trail(p_max integer default 10000) returns integer
language plpgsql security definer as $$
declare
  head record;
  e record;
  sealed integer := 0;
  hash text;
begin
  perform exporter_trail_guard();
  perform set_config('exporter.trail_writer', 'seal:' || txid_current(), true);
  select h.seq, h.sha256 into head from data_export_audit_head h for update;
  for e in select * from data_export_events where seq is null order by id limit p_max for update loop
    head.seq := head.seq + 1;
    hash := exporter_event_sha256(head.sha256, head.seq, e.id, e.request_id, e.user_id, e.at, e.event, e.actor, e.db_role, e.detail);
    update data_export_events set seq = head.seq, prev_sha256 = head.sha256, sha256 = hash where id = e.id;
    head.sha256 := hash;
    sealed := sealed + 1;
  end loop;
  if sealed > 0 then
    update data_export_audit_head set seq = head.seq, sha256 = head.sha256;
  end if;
  perform set_config('exporter.trail_writer', '', true);
  return sealed;
end
$$;

-- The events no row change carries (an operator's link, an extension's
-- email): written by the exporter through this function, for a request that exists.
create or replace function exporter_record_event(p_request_id uuid, p_event text, p_actor text, p_detail jsonb) returns void
language plpgsql security definer as $$
begin
  perform exporter_trail_guard();
  if p_event not in ('link_signed', 'email_sent') then
    raise exception 'exporter_record_event records link_signed and email_sent only, not %', p_event;
  end if;
  insert into data_export_events (request_id, user_id, event, actor, detail)
  select r.id, r.user_id, p_event, p_actor, p_detail from data_export_requests r where r.id = p_request_id;
end
$$;

-- The retention: seals what is unsealed, deletes at most p_batch of the
-- oldest sealed events older than p_retention (at least 30 days), then
-- records the cut as an event of its own (sealed at once), so that the
-- chain's first remaining event is accounted for. Returns how many it deleted.
create or replace function exporter_prune_audit(p_retention interval, p_batch integer default 5000) returns integer
language plpgsql security definer as $$
declare
  cut record;
  deleted integer;
begin
  if p_retention < interval '30 days' then
    raise exception 'the audit trail keeps events at least 30 days (EXPORT_AUDIT_RETENTION %)', p_retention;
  end if;
  perform exporter_seal_trail();
  select e.seq, e.sha256, e.at into cut
    from (select seq, sha256, at from data_export_events where seq is not null and at < now() - p_retention order by seq limit p_batch) e
   order by e.seq desc limit 1;
  if cut.seq is null then
    return 0;
  end if;
  perform set_config('exporter.trail_writer', 'prune:' || txid_current(), true);
  -- Times grow with seq (the order events were written in), so this is the oldest stretch of the chain; `at` is checked again all the same.
  delete from data_export_events where seq <= cut.seq and at < now() - p_retention;
  get diagnostics deleted = row_count;
  perform set_config('exporter.trail_writer', '', true);
  insert into data_export_events (request_id, user_id, event, actor, detail)
  values (null, null, 'pruned', 'exporter', jsonb_build_object(
    'through_seq', cut.seq, 'through_sha256', cut.sha256, 'through_at', cut.at, 'deleted', deleted,
    'retention_seconds', extract(epoch from p_retention)::bigint));
  perform exporter_seal_trail();
  return deleted;
end
$$;

-- Before every statement that inserts, deletes or changes what the trail
-- records of a request: the guard (the effects of anything that ran before it
-- in the statement go with the transaction when it refuses).
create or replace function data_export_requests_guard() returns trigger
language plpgsql security definer as $$
begin
  perform exporter_trail_guard();
  return null;
end
$$;

drop trigger if exists data_export_requests_trail_lock on data_export_requests;
drop trigger if exists data_export_requests_guard on data_export_requests;
create trigger data_export_requests_guard
  before insert or delete or update of status, notified_at, due_at, user_id, object_key, download_url, expires_at
  on data_export_requests
  for each statement execute function data_export_requests_guard();

-- Requests are never emptied unseen: a TRUNCATE writes no event and leaves
-- archives nobody remembers to delete. Deleting rows does both.
create or replace function data_export_requests_no_truncate() returns trigger
language plpgsql as $$
begin
  raise exception 'data_export_requests cannot be truncated: delete its rows instead (each is traced, and its archive deleted by expire)';
end
$$;
drop trigger if exists data_export_requests_no_truncate on data_export_requests;
create trigger data_export_requests_no_truncate
  before truncate on data_export_requests
  for each statement execute function data_export_requests_no_truncate();

-- A request's time of receipt is when it is made, never later: an
-- application cannot date a request into the future (a later due date, a
-- period of the report it was not received in). An earlier time is kept (a
-- request the application received before it reached the exporter).
create or replace function data_export_requests_due() returns trigger
language plpgsql as $$
begin
  new.requested_at := least(coalesce(new.requested_at, now()), now());
  new.due_at := exporter_due_at(new.requested_at, 1);
  new.extended_months := 0;
  return new;
end
$$;

-- The events of a request's changes, now also of its user, key, link and
-- expiry: a change a status change does not explain (a link cleared as the
-- request fails, a new archive as it becomes ready) is a `changed` event that
-- names the fields, with the old and new values of all but the link (a URL
-- with a signature is never stored).
create or replace function data_export_requests_events() returns trigger
language plpgsql security definer as $$
declare
  actor text := exporter_event_actor('exporter');
  reason text := exporter_event_reason();
  context text;
  changed jsonb := '{}';
begin
  if tg_op = 'INSERT' then
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
                'bytes', new.archive_bytes, 'sha256', new.archive_sha256));
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'link_signed', actor, jsonb_build_object(
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
    else
      insert into data_export_events (request_id, user_id, event, actor, detail)
      values (new.id, new.user_id, 'changed', exporter_event_actor('unknown'), jsonb_build_object('status', jsonb_build_object('from', old.status, 'to', new.status)));
    end if;
  end if;
  if new.notified_at is not null and old.notified_at is null then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'email_sent', actor, '{}');
  elsif new.notified_at is distinct from old.notified_at then
    changed := changed || jsonb_build_object('notified_at', jsonb_build_object('from', old.notified_at, 'to', new.notified_at));
  end if;
  if new.due_at is distinct from old.due_at then
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'extended', exporter_event_actor('operator'),
            jsonb_build_object('due_at', new.due_at, 'previous_due_at', old.due_at, 'months', new.extended_months - old.extended_months, 'reason', reason));
  end if;
  -- A user, key, link or expiry that changed without a status change that explains it.
  if new.user_id is distinct from old.user_id then
    changed := changed || jsonb_build_object('user_id', jsonb_build_object('from', old.user_id, 'to', new.user_id));
  end if;
  if new.object_key is distinct from old.object_key and not (new.status is distinct from old.status and (new.status = 'ready' or new.object_key is null)) then
    changed := changed || jsonb_build_object('object_key', jsonb_build_object('from', old.object_key, 'to', new.object_key));
  end if;
  if new.expires_at is distinct from old.expires_at and not (new.status is distinct from old.status and (new.status = 'ready' or new.expires_at is null)) then
    changed := changed || jsonb_build_object('expires_at', jsonb_build_object('from', old.expires_at, 'to', new.expires_at));
  end if;
  if new.download_url is distinct from old.download_url and not (new.status is distinct from old.status and (new.status = 'ready' or new.download_url is null)) then
    changed := changed || jsonb_build_object('download_url', case when new.download_url is null then 'cleared' else 'replaced' end);
  end if;
  if changed <> '{}' then
    -- The exporter never makes such a change itself: whoever did is unknown but for the database role, which the event keeps.
    insert into data_export_events (request_id, user_id, event, actor, detail)
    values (new.id, new.user_id, 'changed', exporter_event_actor('unknown'), changed || jsonb_build_object('reason', reason));
  end if;
  return null;
end
$$;

drop trigger if exists data_export_requests_events_update on data_export_requests;
create trigger data_export_requests_events_update
  after update of status, notified_at, due_at, user_id, object_key, download_url, expires_at on data_export_requests
  for each row
  when (old.status is distinct from new.status or old.notified_at is distinct from new.notified_at or old.due_at is distinct from new.due_at
        or old.user_id is distinct from new.user_id or old.object_key is distinct from new.object_key
        or old.download_url is distinct from new.download_url or old.expires_at is distinct from new.expires_at)
  execute function data_export_requests_events();

-- The trail's functions resolve names in PostgreSQL's own catalog first,
-- then the exporter's schema only: never in a schema an application role
-- could put first on its search_path (the guards run as that role when it
-- tries an insert), nor in pg_temp. Nobody else calls the trail's own.
do $$
declare
  f text;
begin
  foreach f in array array['exporter_record_event(uuid,text,text,jsonb)', 'exporter_prune_audit(interval,integer)', 'exporter_seal_trail(integer)',
                           'exporter_trail_guard()', 'exporter_harden_trail()', 'exporter_trail_writer()', 'data_export_requests_guard()',
                           'data_export_requests_events()', 'data_export_events_chain()', 'data_export_requests_no_truncate()',
                           'data_export_events_append_only()', 'data_export_audit_head_guard()', 'exporter_trail_owner()',
                           'exporter_event_sha256(text,bigint,bigint,uuid,text,timestamptz,text,text,text,jsonb)',
                           'exporter_event_actor(text)', 'exporter_event_reason()', 'data_export_requests_due()',
                           'exporter_due_at(timestamptz,integer)', 'data_export_requests_remember_object()', 'data_export_requests_notify()',
                           'exporter_request_export(text,interval)', 'exporter_request_export(uuid,interval)', 'exporter_request_export(bigint,interval)'] loop
    execute format('alter function %s set search_path = pg_catalog, %I, pg_temp', f, current_schema());
  end loop;
  revoke all on function exporter_record_event(uuid, text, text, jsonb) from public;
  revoke all on function exporter_prune_audit(interval, integer) from public;
  revoke all on function exporter_seal_trail(integer) from public;
  revoke all on function exporter_harden_trail() from public;
end
$$;
revoke all on data_export_events, data_export_audit_head from public;
select exporter_harden_trail();
