-- Progress of a request being built, for the application to poll and for
-- `exporter status <id>`. Written with the claim renewal every few seconds,
-- never per row. rows_* count each row once per format (JSON and CSV), so
-- rows_total is twice the rows in the export.
alter table data_export_requests
  add column if not exists rows_total bigint,
  add column if not exists rows_written bigint,
  add column if not exists bytes_uploaded bigint,
  add column if not exists progress_updated_at timestamptz;
