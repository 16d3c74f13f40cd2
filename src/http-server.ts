import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './log.ts';

/** Why /readyz answers 503, in words fit for anyone who can reach the port; the error behind it (`cause`) goes to the log. */
export class NotReadyError extends Error {
  override name = 'NotReadyError';
}

export interface HealthChecks {
  /** The database answers and, unless poll-only, the LISTEN connection is up. Throws a NotReadyError otherwise. */
  ready(): Promise<void>;
  metrics: Registry;
}

/**
 * /livez, /readyz and /metrics for a long-running `exporter work`.
 * /livez answers as long as the event loop does: never tied to how long an
 * export takes, so a slow export is never killed for being slow. /readyz is
 * 503 while the database cannot be reached or notifications are down.
 */
export async function startHttpServer(port: number, checks: HealthChecks, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/livez') return send(200, 'ok\n');
    if (path === '/readyz') {
      checks.ready().then(
        () => send(200, 'ok\n'),
        (error: unknown) => {
          // A driver's message can name hosts, ports and users: the log gets it, the probe does not.
          const cause = error instanceof NotReadyError ? error.cause : error;
          if (cause !== undefined) log.warn({ err: cause }, 'not ready');
          send(503, `not ready: ${error instanceof NotReadyError ? error.message : 'internal error (see the log)'}\n`);
        },
      );
      return;
    }
    if (path === '/metrics') {
      checks.metrics.metrics().then(
        (text) => send(200, text, checks.metrics.contentType),
        (error: unknown) => {
          log.warn({ err: error }, 'could not collect metrics');
          send(500, 'could not collect metrics\n');
        },
      );
      return;
    }
    send(404, 'not found: try /livez, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  log.info({ port }, 'serving /livez, /readyz and /metrics');
  return server;
}
