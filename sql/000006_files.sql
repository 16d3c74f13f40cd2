-- The user's files (uploads, media) in the archive: how far a build is in
-- their bytes, next to its rows, and the one function that makes a name safe
-- to put in a ZIP. Rows and files get their paths from the same SQL, so the
-- path a row names is the path the file is written at.
alter table data_export_requests
  add column if not exists file_bytes_total bigint,
  add column if not exists file_bytes_written bigint;

-- A name that is safe as one part of a path in an archive, whatever was
-- uploaded: unpacking it can never leave its folder (no separators, no
-- dot-segments, no drive letters), show something it is not (no control or
-- bidirectional-override characters), or fail on Windows (no reserved
-- characters or device names, no trailing dot or space). Unicode is NFC, so
-- the same name looks and compares the same everywhere. At most 120
-- characters and 200 bytes (file systems allow 255 bytes per name), keeping a
-- short extension. Never empty.
create or replace function exporter_file_name(original text) returns text
language plpgsql stable parallel safe as $$
declare
  s text := coalesce(original, '');
  ext text;
  stem text;
begin
  if current_setting('server_encoding') = 'UTF8' then
    s := normalize(s, NFC);
  end if;
  -- Separators, Windows-reserved characters, C0/DEL/C1 controls, zero-width,
  -- bidirectional marks and overrides, and the BOM.
  s := regexp_replace(s, '[/\\<>:"|?*\x01-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]', '_', 'g');
  s := regexp_replace(s, '^ +', '');
  s := regexp_replace(s, '[. ]+$', '');
  -- A leading dot would make "..", "." or a hidden file.
  s := regexp_replace(s, '^\.', '_');
  if s ~* '^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)' then
    s := '_' || s;
  end if;
  if char_length(s) > 120 or octet_length(s) > 200 then
    ext := coalesce(substring(s from '(\.[A-Za-z0-9]{1,10})$'), '');
    stem := left(s, char_length(s) - char_length(ext));
    stem := left(stem, 120 - char_length(ext));
    while octet_length(stem || ext) > 200 loop
      stem := left(stem, -1);
    end loop;
    s := regexp_replace(stem, '[. ]+$', '') || ext;
  end if;
  if s = '' then
    return 'file';
  end if;
  return s;
end
$$;
