/**
 * Scrubs secrets out of any text that is about to leave the process (a log
 * line, an error stored on a request): passwords in connection URLs, the
 * signature and credential parts of presigned URLs, and any exact secret
 * value the process knows of (the AWS secret key).
 */
const PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host → scheme://user:***@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*:)[^\s@/"]+@/gi, '$1***@'],
  // X-Amz-Signature=…, X-Amz-Credential=…, X-Amz-Security-Token=…
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"]+/gi, '$1***'],
  // Authorization: AWS4-HMAC-SHA256 Credential=…, Signature=…
  [/((?:Credential|Signature)=)[A-Za-z0-9/%+=._-]{8,}/g, '$1***'],
];

const knownSecrets = new Set<string>();

/** Remembers a secret value (at least 8 characters) so that it is scrubbed wherever it shows up. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of knownSecrets) out = out.replaceAll(secret, '***');
  return out;
}

/** The URL without its query string: what a log may say about a presigned link. */
export function linkForLog(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}
