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
  utf8 boolean := current_setting('server_encoding') = 'UTF8';
begin
  -- Separators, Windows-reserved characters, C0 controls and DEL.
  s := regexp_replace(s, '[/\\<>:"|?*\x01-\x1f\x7f]', '_', 'g');
  if utf8 then
    -- C1 controls, zero-width, bidirectional marks and overrides, the BOM.
    -- Only where characters are Unicode: in a SQL_ASCII database these
    -- would be bytes inside a character, and replacing one would leave text
    -- that is not UTF-8 (and a COPY that fails).
    s := normalize(s, NFC);
    s := regexp_replace(s, '[\x80-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]', '_', 'g');
  end if;
  if char_length(s) > 119 or octet_length(s) > 199 then
    ext := coalesce(substring(s from '(\.[A-Za-z0-9]{1,10})$'), '');
    stem := left(s, char_length(s) - char_length(ext));
    stem := left(stem, 119 - char_length(ext));
    while octet_length(stem || ext) > 199 loop
      stem := left(stem, -1);
    end loop;
    if not utf8 then
      -- The database sees bytes, not characters: never end on part of a UTF-8 one.
      stem := regexp_replace(stem, '([\xc0-\xdf]|[\xe0-\xef][\x80-\xbf]?|[\xf0-\xf7][\x80-\xbf]{0,2})$', '');
    end if;
    s := regexp_replace(stem, '[. ]+$', '') || ext;
  end if;
  s := regexp_replace(s, '^ +', '');
  s := regexp_replace(s, '[. ]+$', '');
  -- A leading dot would make "..", "." or a hidden file.
  s := regexp_replace(s, '^\.', '_');
  if s ~* '^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)' then
    s := '_' || s;
  end if;
  if s = '' then
    return 'file';
  end if;
  return s;
end
$$;
