import pg from 'pg';
import type { Logger } from '../log.ts';
import { sleep, withTimeout } from './sleep.ts';

/** The channel the insert trigger and the intake function notify (sql/000005_work.sql). */
export const REQUESTS_CHANNEL = 'exporter_requests';

export interface ListenerOptions {
  databaseUrl: string;
  /** A request was inserted: wake one idle slot. */
  onNotify: () => void;
  /** (Re)connected and listening: poll at once for what arrived while we were not. */
  onListening: () => void;
  log: Logger;
  /** How often the listening session is checked (a LISTEN lost silently must be noticed). */
  checkEveryMs?: number;
  signal: AbortSignal;
}

/**
 * LISTEN on one dedicated connection (never a pooled one: a pool would hand
 * the session, and its LISTEN, to anyone). The connection is checked
 * periodically; when it breaks or the check fails, the listener reconnects
 * with exponential backoff and jitter, and polls at once after each
 * reconnect. While it is not listening, `healthy` is false: the poller polls
 * every few seconds and /readyz says so.
 */
export class RequestListener {
  healthy = false;
  readonly done: Promise<void>;
  private readonly options: ListenerOptions;

  constructor(options: ListenerOptions) {
    this.options = options;
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const { signal, log } = this.options;
    let backoffMs = 500;
    while (!signal.aborted) {
      const client = new pg.Client({
        connectionString: this.options.databaseUrl,
        application_name: 'exporter-listener',
        connectionTimeoutMillis: 5_000,
      });
      client.on('error', () => {}); // reported through watch()
      try {
        await client.connect();
        client.on('notification', (message) => message.channel === REQUESTS_CHANNEL && this.options.onNotify());
        await client.query(`listen ${REQUESTS_CHANNEL}`);
        this.healthy = true;
        backoffMs = 500;
        log.info({ channel: REQUESTS_CHANNEL }, 'listening for new requests');
        this.options.onListening();
        await this.watch(client);
      } catch (error) {
        if (!signal.aborted)
          log.warn({ err: error }, 'the LISTEN connection failed; polling every few seconds until it is back');
      } finally {
        this.healthy = false;
        await client.end().catch(() => {});
      }
      if (signal.aborted) break;
      await sleep(backoffMs * (0.5 + Math.random()), signal); // jitter: N workers do not reconnect in step
      backoffMs = Math.min(backoffMs * 2, 30_000);
    }
  }

  /** Resolves when asked to stop; rejects when the connection breaks or a check fails. */
  private watch(client: pg.Client): Promise<void> {
    const { signal } = this.options;
    return new Promise<void>((resolve, reject) => {
      const checkEveryMs = this.options.checkEveryMs ?? 30_000;
      const finish = (error?: Error) => {
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        client.off('error', onBroken);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => finish();
      const onBroken = (error: Error) => finish(error);
      const onEnd = () => finish(new Error('the LISTEN connection ended'));
      // The session still listens on our channel, and answers within a few seconds.
      const check = async () => {
        const answer = client.query<{ n: number }>(
          'select count(*)::int as n from pg_listening_channels() c where c = $1',
          [REQUESTS_CHANNEL],
        );
        const result = await withTimeout(answer, 5_000, 'the LISTEN connection did not answer a check within 5 s');
        if (result.rows[0]!.n !== 1) throw new Error('the session no longer listens');
      };
      const timer = setInterval(() => check().catch(onBroken), checkEveryMs);
      signal.addEventListener('abort', onAbort, { once: true });
      client.on('error', onBroken);
      client.on('end', onEnd);
    });
  }
}
