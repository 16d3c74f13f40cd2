/**
 * A signal of its own for one request, following the caller's until
 * `release`. The build's signal lives as long as the build and would be
 * handed to thousands of requests (one per file); listeners that an HTTP
 * layer leaves on a long-lived signal hold each request's objects until the
 * build ends (smithy-typescript#1318), so each request gets its own and the
 * link is cut when the request is over.
 */
export function linkedSignal(parent: AbortSignal): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, release: () => parent.removeEventListener('abort', onAbort) };
}
