import { Readable } from 'node:stream';
import {
  type FileBody,
  type FileHead,
  FileRefusedError,
  type FileSource,
  MISSING,
  type ReadOptions,
} from './file-source.ts';
import { linkedSignal } from './linked-signal.ts';
import { urlProblem } from './locators.ts';
import { IDLE_TIMEOUT_MS } from './timeouts.ts';

/** Files behind https URLs, on the hosts the definition allows and nowhere else (redirects included). */
export class HttpsFileSource implements FileSource {
  readonly name: string;
  private readonly hosts: ReadonlySet<string>;

  constructor(name: string, hosts: readonly string[]) {
    this.name = name;
    this.hosts = new Set(hosts);
  }

  async head(url: string, signal: AbortSignal): Promise<FileHead | typeof MISSING> {
    const link = linkedSignal(signal);
    try {
      const response = await this.fetch(url, 'HEAD', {}, link.signal);
      return response === MISSING ? MISSING : headOf(response, 0);
    } finally {
      link.release();
    }
  }

  async read(url: string, options: ReadOptions): Promise<FileBody | typeof MISSING> {
    const from = options.from ?? 0;
    const headers: Record<string, string> = {};
    if (from > 0) headers.range = `bytes=${from}-`;
    if (options.etag) headers['if-match'] = options.etag;
    const link = linkedSignal(options.signal);
    try {
      const response = await this.fetch(url, 'GET', headers, link.signal);
      if (response === MISSING) {
        link.release();
        return MISSING;
      }
      if (from > 0 && response.status !== 206) {
        await response.body?.cancel();
        throw new Error(`the source did not resume the file at byte ${from} (HTTP ${response.status})`);
      }
      const body = Readable.fromWeb(response.body! as import('node:stream/web').ReadableStream<Uint8Array>);
      body.once('close', link.release);
      const head = headOf(response, from);
      return { ...head, body, resumable: Number.isFinite(head.bytes) };
    } catch (error) {
      link.release();
      throw error;
    }
  }

  refusal(url: string): string | undefined {
    return urlProblem(url);
  }

  destroy(): void {}

  /** Follows at most three redirects, each to an allowed host over https. */
  private async fetch(
    url: string,
    method: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Response | typeof MISSING> {
    let target = this.allowed(url);
    for (let hop = 0; hop <= 3; hop++) {
      // A deadline for the answer's headers only: the body of a large file may rightly take longer (the build's stall watchdog covers a body that stops).
      const controller = new AbortController();
      const timer = setTimeout(
        () =>
          controller.abort(
            Object.assign(new Error(`no answer within ${IDLE_TIMEOUT_MS / 1000} s`), { name: 'TimeoutError' }),
          ),
        IDLE_TIMEOUT_MS,
      );
      // `signal` is this read's own (linkedSignal), so this listener goes with the read.
      signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
      let response: Response;
      try {
        // The file as stored: a body sent compressed is decoded by fetch, and its length and byte offsets are then the compressed ones.
        response = await fetch(target, {
          method,
          headers: { ...headers, 'accept-encoding': 'identity' },
          redirect: 'manual',
          signal: controller.signal,
        });
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        await response.body?.cancel();
        target = this.allowed(new URL(response.headers.get('location')!, target).toString());
        continue;
      }
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return MISSING;
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel();
        throw new FileRefusedError(
          `the source refused it (HTTP ${response.status})`,
          `its server refused to hand it over (HTTP ${response.status})`,
        );
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw Object.assign(new Error(`the source answered HTTP ${response.status}`), { statusCode: response.status });
      }
      return response;
    }
    throw new FileRefusedError('too many redirects', 'its server redirected too many times');
  }

  private allowed(text: string): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new FileRefusedError('its address is not a URL', 'its address is not a web address');
    }
    if (url.protocol !== 'https:') throw new FileRefusedError('its address is not https', 'its address is not https');
    if (url.username || url.password)
      throw new FileRefusedError('its address carries credentials', 'its address carries a password');
    if (!this.hosts.has(url.host.toLowerCase())) {
      throw new FileRefusedError(
        `its host ${url.host} is not on the allowed hosts of source ${this.name}`,
        'its address is not on a server we read files from',
      );
    }
    return url;
  }
}

/**
 * What an answer says of the file. A server that compressed the body all the
 * same (Content-Encoding, despite `identity`): fetch hands over the decoded
 * bytes, which are stored as they come, while Content-Length counts the
 * encoded ones; its size is then unknown (counted instead), and it cannot be
 * resumed at a byte offset.
 */
function headOf(response: Response, from: number): FileHead {
  const encoding = response.headers.get('content-encoding')?.trim().toLowerCase();
  const encoded = encoding !== undefined && encoding !== '' && encoding !== 'identity';
  const length = encoded ? Number.NaN : Number(response.headers.get('content-length') ?? Number.NaN);
  return {
    bytes: Number.isFinite(length) ? from + length : Number.NaN,
    contentType: response.headers.get('content-type') ?? undefined,
    etag: response.headers.get('etag') ?? undefined,
  };
}
