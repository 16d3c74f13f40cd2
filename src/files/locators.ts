/**
 * Keys and URLs come from the application's database, where a user may have
 * written them (many applications let the client report the key it uploaded
 * to): untrusted input. These say which ones are never read, before any
 * request is made. Binding a key to its row's owner is the definition's
 * key_prefix, checked in SQL (src/definition/resolve.ts); these rules close
 * what a prefix check alone leaves open: a key that starts with the owner's
 * prefix and then climbs out of it (`u/alice/../bob/x`, which some S3 servers
 * and every URL parser resolve), or one a server reads differently from how
 * it is written (control characters, an empty segment, a leading "/").
 */

/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** C0 and C1 controls and DEL: never part of a key anyone meant. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why an object key is never read, or undefined when it may be. */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'its key is empty';
  if (CONTROL.test(key)) return 'its key holds a control character';
  if (key.startsWith('/')) return 'its key starts with "/"';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return 'its key is longer than S3 allows';
  const segments = key.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return 'its key has a "." or ".." segment';
  if (segments.some((s) => s === '')) return 'its key has an empty segment';
  return undefined;
}

/** Why an https URL is never read, or undefined when it may be (the host rules are the source's). */
export function urlProblem(url: string): string | undefined {
  if (CONTROL.test(url) || /\s/.test(url)) return 'its address holds a control character or a space';
  // WHATWG URLs read a backslash as "/" in https: addresses.
  if (url.includes('\\')) return 'its address holds a backslash';
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '');
  // Dot-segments, also percent-encoded: a URL parser resolves them before the request.
  if (path.split('/').some((s) => /^(\.|%2e){1,2}$/i.test(s))) return 'its address has a "." or ".." segment';
  return undefined;
}
