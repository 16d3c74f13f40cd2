-- The sample application's uploads: a profile picture per user and files
-- attached to releases (definitions/sample.yaml exports both, with the files
-- themselves read from the application's own bucket). Unlike the rest of the
-- sample schema (sql/000001_schema.sql), these tables are not in the
-- exporter's migrations: `exporter migrate` on an application's real database
-- must never add tables to it. The demo, the tests and the benchmark apply
-- this file after migrating.
create table if not exists avatars (
  user_id      uuid primary key references users on delete cascade,
  object_key   text not null,
  file_name    text,
  content_type text,
  byte_size    bigint,
  updated_at   timestamptz not null default now()
);

create table if not exists release_assets (
  id           uuid primary key,
  release_id   uuid not null references releases on delete cascade,
  object_key   text not null,
  file_name    text not null,
  content_type text,
  byte_size    bigint,
  created_at   timestamptz not null default now()
);

create index if not exists release_assets_release_id_idx on release_assets (release_id);
