-- Intake: at most one open (pending or processing) request per user, enforced
-- by the database itself; the 24-hour window is enforced under a per-user
-- advisory lock by src/db/intake.ts, so two requests at the same instant
-- cannot both get in.
create unique index if not exists data_export_requests_one_open_per_user
  on data_export_requests (user_id) where status in ('pending', 'processing');

-- The "your export is ready" email: sent once, after the ready update has
-- committed. notified_at is set when the server accepted it; a failed send is
-- retried by later runs up to a limit; notify_error says why it stopped.
alter table data_export_requests
  add column if not exists notified_at timestamptz,
  add column if not exists notify_attempts integer not null default 0,
  add column if not exists notify_claimed_at timestamptz,
  add column if not exists notify_error text;

create index if not exists data_export_requests_unnotified_idx
  on data_export_requests (completed_at) where status = 'ready' and notified_at is null and notify_error is null;
