import http from 'node:http';

export interface SeenRequest {
  method: string;
  url: string;
}

type Match = (req: SeenRequest) => boolean;

/**
 * An HTTP proxy on loopback in front of a real S3 API, to put one chosen
 * request on hold or make storage vanish at a chosen request. The client's
 * Host header is passed through untouched, so SigV4 signatures still verify.
 */
export class S3Proxy {
  readonly seen: SeenRequest[] = [];
  private readonly server: http.Server;
  private readonly target: URL;
  private holds: { match: Match; every: boolean; arrived: () => void; released: Promise<void> }[] = [];
  private swallowed: Match | undefined;
  private failing: { match: Match; left: number } | undefined;
  private cutting: { match: Match; afterBytes: number; left: number } | undefined;
  private goneFrom: Match | undefined;
  private gone = false;

  private constructor(target: string) {
    this.target = new URL(target);
    // A client that dies mid-request (SIGKILL) ends its request with an error: drop it.
    this.server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
  }

  static async start(target: string): Promise<S3Proxy> {
    const proxy = new S3Proxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /**
   * The first request that matches (or, with `every`, each one) waits, already
   * received whole, until release() is called; `arrived` resolves with the first.
   */
  hold(match: Match, options: { every?: boolean } = {}): { arrived: Promise<void>; release: () => void } {
    let arrived!: () => void;
    let release!: () => void;
    const arrivedPromise = new Promise<void>((r) => (arrived = r));
    const released = new Promise<void>((r) => (release = r));
    this.holds.push({ match, every: options.every ?? false, arrived, released });
    return { arrived: arrivedPromise, release };
  }

  /**
   * Requests that match are answered 204 by the proxy and never reach the
   * storage: how a storage behaves that acknowledges an AbortMultipartUpload
   * while a CompleteMultipartUpload already under way still commits.
   */
  swallow(match: Match): void {
    this.swallowed = match;
  }

  /** Requests that match are refused with 503 SlowDown, as an overloaded storage does (the first `times` of them, or all). */
  fail(match: Match, options: { times?: number } = {}): void {
    this.failing = { match, left: options.times ?? Number.POSITIVE_INFINITY };
  }

  /** The answers to requests that match (the first `times` of them) break off after `afterBytes` bytes of body: a connection reset mid-download. */
  cut(match: Match, afterBytes: number, options: { times?: number } = {}): void {
    this.cutting = { match, afterBytes, left: options.times ?? 1 };
  }

  /** From the first request that matches on, storage is gone: every connection is dropped unanswered. */
  vanishAt(match: Match): void {
    this.goneFrom = match;
  }

  restore(): void {
    this.gone = false;
    this.goneFrom = undefined;
    this.swallowed = undefined;
    this.failing = undefined;
    this.cutting = undefined;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const seen = { method: req.method!, url: req.url! };
    this.seen.push(seen);
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    if (this.gone || this.goneFrom?.(seen)) {
      this.gone = true;
      req.socket.destroy();
      return;
    }
    if (this.failing?.match(seen) && this.failing.left-- > 0) {
      res
        .writeHead(503, { 'content-type': 'application/xml' })
        .end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
      return;
    }
    if (this.swallowed?.(seen)) {
      res.writeHead(204).end();
      return;
    }
    const hold = this.holds.find((h) => h.match(seen));
    if (hold) {
      if (!hold.every) this.holds = this.holds.filter((h) => h !== hold);
      hold.arrived();
      await hold.released; // forwarded even if the client gave up: the server got it whole
    }
    const upstream = http.request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (res.destroyed) return void up.resume();
        res.writeHead(up.statusCode!, up.headers);
        const cut = this.cutting;
        if (cut?.match(seen) && cut.left-- > 0) {
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            if (sent >= cut.afterBytes) return;
            const take = chunk.subarray(0, cut.afterBytes - sent);
            sent += take.length;
            res.write(take);
            if (sent >= cut.afterBytes) {
              up.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(Buffer.concat(body));
  }
}

/** AbortMultipartUpload: a DELETE on the object with an uploadId. */
export const isAbortMultipart: Match = (r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url);

/** CompleteMultipartUpload: a POST on the object with an uploadId and no part number. */
export const isComplete: Match = (r) =>
  r.method === 'POST' && /[?&]uploadId=/.test(r.url) && !/[?&]partNumber=/.test(r.url);
