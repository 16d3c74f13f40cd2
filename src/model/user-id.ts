/**
 * What text can be a user id, whatever the key's type: not empty, at most
 * USER_ID_MAX_CHARS characters, no control character (PostgreSQL's text
 * cannot hold NUL at all). Said once, here, and run in two places: by the
 * worker and `exporter request` (isUserIdText), and by the database for
 * every request however it is made (userIdTextSql, in exporter_user_key(),
 * which the intake function and the request table's check use:
 * src/db/user-link.ts). So the SQL intake never accepts an id the worker
 * would then refuse.
 */
export const USER_ID_MAX_CHARS = 1000;

/** Control characters, as code points (C0 and DEL). */
const CONTROLS: readonly [number, number][] = [
  [0x00, 0x1f],
  [0x7f, 0x7f],
];

export function isUserIdText(text: string): boolean {
  const chars = [...text];
  return (
    chars.length > 0 &&
    chars.length <= USER_ID_MAX_CHARS &&
    !chars.some((c) => CONTROLS.some(([from, to]) => c.codePointAt(0)! >= from && c.codePointAt(0)! <= to))
  );
}

/** The same rule in SQL, over a text expression (PostgreSQL counts characters, as isUserIdText does). */
export function userIdTextSql(expr: string): string {
  const ranges = CONTROLS.map(([from, to]) => `\\x${hex(Math.max(from, 1))}-\\x${hex(to)}`).join('');
  return `(${expr} <> '' and char_length(${expr}) <= ${USER_ID_MAX_CHARS} and ${expr} !~ '[${ranges}]')`;
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
