-- The exporter plugs into the application's existing database and creates
-- only its own objects there, never an application table. (Until 0.1 this
-- file also created the sample application's tables when they were missing;
-- a database migrated then keeps them, as the application's. The sample
-- application's schema is definitions/sample-schema.sql.) The request's
-- user_id is any user key, as text (000008): it names a row of the user
-- table the definition names, which `exporter migrate` links to.

create extension if not exists pgcrypto; -- gen_random_uuid() on PostgreSQL < 13

create table if not exists data_export_requests (
  id            uuid primary key default gen_random_uuid(),
  user_id       uuid not null,
  status        text not null default 'pending'
                check (status in ('pending', 'processing', 'ready', 'failed')),
  requested_at  timestamptz not null default now(),
  started_at    timestamptz,
  completed_at  timestamptz,
  attempts      integer not null default 0,
  download_url  text,
  expires_at    timestamptz,
  object_key    text,
  archive_bytes bigint,
  row_counts    jsonb,
  error         text
);

-- The claim: which worker holds a processing request, and until when. A
-- worker renews it while it builds; a claim past claim_expires_at belongs to
-- a dead worker and the request may be taken over. Every write a worker makes
-- is fenced on its own claim_id, so a late worker cannot overwrite a newer one.
alter table data_export_requests
  add column if not exists claim_id uuid,
  add column if not exists claim_expires_at timestamptz;

-- fulfill: the oldest pending requests first.
create index if not exists data_export_requests_pending_idx
  on data_export_requests (requested_at) where status = 'pending';
-- fulfill: processing requests whose worker died.
create index if not exists data_export_requests_claim_expired_idx
  on data_export_requests (claim_expires_at) where status = 'processing';
-- expire: ready links past their expiry.
create index if not exists data_export_requests_ready_expiry_idx
  on data_export_requests (expires_at) where status = 'ready';
-- sweep: is this object still pointed at?
create index if not exists data_export_requests_object_key_idx
  on data_export_requests (object_key) where object_key is not null;
-- the application: a user's requests, newest first.
create index if not exists data_export_requests_user_idx
  on data_export_requests (user_id, requested_at desc);
