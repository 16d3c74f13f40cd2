-- The sample application's uploads: a profile picture per user and files
-- attached to releases (definitions/sample-files.yaml exports both, with the
-- files themselves read from the application's own bucket). Like the rest
-- of the sample schema (definitions/sample-schema.sql), these tables are not
-- the exporter's: `exporter migrate` never adds tables to an application's
-- database. The demo, the tests and the benchmark apply this file after
-- sample-schema.sql.
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
