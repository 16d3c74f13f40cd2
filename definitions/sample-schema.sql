-- The sample application (the five entities of the SaaS Factory spec: users,
-- their projects and project memberships, features, CI pipeline runs and
-- releases), which definitions/sample.yaml exports. Not the exporter's: the
-- demo, the tests and the benchmark apply it before `exporter migrate`, as a
-- real application's own migrations would have made its tables.
-- definitions/sample-files.sql adds the sample's uploads.

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
