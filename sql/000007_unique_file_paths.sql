-- The folder of a row's files, files/<entity>/<folder>/<name>, from the
-- row's key: unique in the archive, whatever the keys. exporter_file_name()
-- alone is not one to one: "a:b" and "a_b", an NFD and an NFC "été", "." and
-- "..", two 300-character slugs that differ past the cut, all come out the
-- same. So a key that exporter_file_name() changes, or that already ends the
-- way a tag does, gets a tag from its exact text: "~" and 12 hex digits of
-- its MD5 (48 bits). An unchanged key (every uuid and number) is its own
-- folder, and never ends like a tag; a tagged one always does; two tagged
-- ones differ unless their MD5s agree in 48 bits. The ZIP writer refuses a
-- name twice, so even that could not put two files at one path.
create or replace function exporter_row_folder(original text) returns text
language plpgsql stable parallel safe as $$
declare
  safe text := exporter_file_name(original);
  tag text;
  stem text;
begin
  if safe = coalesce(original, '') and safe !~ '~[0-9a-f]{12}$' then
    return safe;
  end if;
  tag := '~' || left(md5(coalesce(original, '')), 12);
  -- Room for the tag within exporter_file_name's limits (119 characters, 199 bytes).
  stem := left(safe, 119 - 13);
  while octet_length(stem) > 199 - 13 loop
    stem := left(stem, -1);
  end loop;
  if current_setting('server_encoding') <> 'UTF8' then
    -- Bytes, not characters: never end on part of a UTF-8 one.
    stem := regexp_replace(stem, '([\xc0-\xdf]|[\xe0-\xef][\x80-\xbf]?|[\xf0-\xf7][\x80-\xbf]{0,2})$', '');
  end if;
  return stem || tag;
end
$$;
