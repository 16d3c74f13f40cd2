-- Any user table, any user key (uuid, integer, bigint, text, …). A request's
-- user_id is the key as text, in its canonical form (the key cast to text),
-- so the exporter's own table needs no type of the application's. The
-- foreign key to the sample's users table goes (a database migrated by an
-- earlier version had one); what it did, `exporter migrate` now links to the
-- user table the definition names (src/db/user-link.ts): a trigger that ends
-- a deleted user's requests, as the cascade did, a check that a user_id is
-- in its key's canonical form, and exporter_user_exists() for the intake.
alter table data_export_requests drop constraint if exists data_export_requests_user_id_fkey;
alter table data_export_requests alter column user_id type text using user_id::text;

-- Until `exporter migrate` links a user table, the intake refuses with a clear error.
create or replace function exporter_user_exists(p_user_id text) returns boolean
language plpgsql as $$
begin
  raise exception 'the exporter is not linked to a user table yet: run exporter migrate';
end
$$;

-- The intake takes the user id as text (an application with integer ids
-- passes 42 or '42'); exporter_user_exists() says whether it names a user,
-- and the request stores the key's canonical text.
drop function if exists exporter_request_export(uuid, interval);
create or replace function exporter_request_export(p_user_id text, p_window interval default interval '24 hours')
returns table (outcome text, request_id uuid, requested_at timestamptz, retry_after timestamptz, previous_request_id uuid)
language plpgsql as $$
declare
  previous record;
  canonical text;
begin
  canonical := exporter_user_key(p_user_id);
  if canonical is null or not exporter_user_exists(canonical) then
    return query select 'no-such-user'::text, null::uuid, null::timestamptz, null::timestamptz, null::uuid;
    return;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('exporter:intake:' || canonical, 0));
  select r.id, r.requested_at into previous
    from data_export_requests r
   where r.user_id = canonical
     and (r.status in ('pending', 'processing') or (r.status = 'ready' and r.requested_at > now() - p_window))
   order by r.requested_at desc
   limit 1;
  if found then
    return query select 'rate-limited'::text, null::uuid, previous.requested_at,
      greatest(previous.requested_at + p_window, now()), previous.id;
    return;
  end if;
  return query
    insert into data_export_requests as r (user_id) values (canonical)
    returning 'created'::text, r.id, r.requested_at, null::timestamptz, null::uuid;
end
$$;

-- Callers of the uuid version (an application that passes a typed uuid) keep
-- working, and one with integer ids may pass them as numbers (an integer
-- argument is cast to bigint). An untyped '42' or 'c0ffee…' takes the text one.
create or replace function exporter_request_export(p_user_id uuid, p_window interval default interval '24 hours')
returns table (outcome text, request_id uuid, requested_at timestamptz, retry_after timestamptz, previous_request_id uuid)
language sql as $$
  select * from exporter_request_export(p_user_id::text, p_window)
$$;
create or replace function exporter_request_export(p_user_id bigint, p_window interval default interval '24 hours')
returns table (outcome text, request_id uuid, requested_at timestamptz, retry_after timestamptz, previous_request_id uuid)
language sql as $$
  select * from exporter_request_export(p_user_id::text, p_window)
$$;

-- The key's canonical text, or null when the text is not a key of its type
-- (replaced by the link with the user key's own type).
create or replace function exporter_user_key(p_user_id text) returns text
language plpgsql as $$
begin
  raise exception 'the exporter is not linked to a user table yet: run exporter migrate';
end
$$;
