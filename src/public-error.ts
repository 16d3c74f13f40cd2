/**
 * The text stored in a request's `error`, which the application may show to
 * the user: short, and never a URL, a credential, a query or a stack trace.
 * The full error goes to the log (redacted) instead.
 */
export function publicErrorText(error: unknown, what: string): string {
  const text = `${categoryOf(error)} while ${what}${safeName(error)}`;
  return text.slice(0, 200);
}

function categoryOf(error: unknown): string {
  const e = error as { $metadata?: unknown; code?: unknown; name?: unknown; severity?: unknown };
  if (e && typeof e === 'object') {
    if ('$metadata' in e) return 'storage error';
    if (typeof e.severity === 'string' || (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)))
      return 'database error';
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return 'network error';
    if (e.name === 'TimeoutError') return 'timeout';
  }
  return 'internal error';
}

/** An error's class or code (e.g. "NoSuchBucket", "ECONNREFUSED"): names, never messages. */
function safeName(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown };
  const name = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : '';
  return /^[A-Za-z0-9_.]{1,60}$/.test(name) && name !== 'Error' ? ` (${name})` : '';
}
