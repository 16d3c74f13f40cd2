-- The exporter plugs into the application's existing database. The tables the
-- application owns are created only when they are missing (a fresh database,
-- the demo, the tests); on a real deployment they already exist and only the
-- indexes the export queries need are added.

create extension if not exists pgcrypto; -- gen_random_uuid() on PostgreSQL < 13

create table if not exists users (
  id            uuid primary key,
  email         text not null unique,
  name          text,
  password_hash text,
  created_at    timestamptz not null default now()
);

create table if not exists projects (
  id          uuid primary key,
  owner_id    uuid not null references users,
  name        text not null,
  description text,
  created_at  timestamptz,
  updated_at  timestamptz
);

create table if not exists project_members (
  project_id uuid references projects,
  user_id    uuid references users,
  role       text not null,
  added_at   timestamptz,
  primary key (project_id, user_id)
);

create table if not exists features (
  id         uuid primary key,
  project_id uuid not null references projects,
  key        text,
  title      text,
  status     text,
  metadata   jsonb,
  created_at timestamptz,
  updated_at timestamptz
);

create table if not exists pipeline_runs (
  id          uuid primary key,
  project_id  uuid not null references projects,
  feature_id  uuid null references features,
  number      integer,
  status      text,
  trigger     text,
  branch      text,
  commit_sha  text,
  started_at  timestamptz,
  finished_at timestamptz,
  duration_ms bigint,
  metadata    jsonb
);

create table if not exists releases (
  id          uuid primary key,
  project_id  uuid not null references projects,
  version     text not null,
  name        text,
  notes       text,
  released_at timestamptz,
  created_by  uuid null references users
);

-- The export reads every table by project (and projects by owner or member).
create index if not exists projects_owner_id_idx on projects (owner_id);
create index if not exists project_members_user_id_idx on project_members (user_id);
create index if not exists features_project_id_idx on features (project_id);
create index if not exists pipeline_runs_project_id_idx on pipeline_runs (project_id);
create index if not exists releases_project_id_idx on releases (project_id);

create table if not exists data_export_requests (
  id            uuid primary key default gen_random_uuid(),
  user_id       uuid not null references users on delete cascade,
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
