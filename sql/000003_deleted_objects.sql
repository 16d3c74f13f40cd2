-- When a request row that points at a live archive is deleted (the user's
-- account is deleted and the row goes with it by cascade, or the application
-- deletes the row), its archive must not stay in the bucket until the sweep's
-- one-day grace passes: the key is remembered here and the next `expire`
-- deletes the object at once.
create table if not exists data_export_deleted_objects (
  object_key text primary key,
  deleted_at timestamptz not null default now()
);

create or replace function data_export_requests_remember_object() returns trigger
language plpgsql as $$
begin
  if old.object_key is not null and old.status in ('ready', 'processing') then
    insert into data_export_deleted_objects (object_key) values (old.object_key) on conflict do nothing;
  end if;
  return old;
end
$$;

drop trigger if exists data_export_requests_remember_object on data_export_requests;
create trigger data_export_requests_remember_object
  after delete on data_export_requests
  for each row execute function data_export_requests_remember_object();
