import { once } from 'node:events';
import { Readable } from 'node:stream';

/** The archive's output ended before the archive did (its consumer went away). */
export class ArchiveClosedError extends Error {
  override name = 'ArchiveClosedError';
}

/**
 * The archive's bytes as they leave: one ordered chain of steps (a header, a
 * chunk, an entry's end) whose bytes go out of `readable` in that order, each
 * waiting while the consumer (the upload) is behind, and one failure that ends
 * every wait. It knows nothing of entries: ZipWriter decides what the steps
 * write.
 */
export class ZipOutput {
  readonly readable: Readable;
  /** Bytes pushed so far: the next header's offset. */
  offset = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private finished = false;
  /** Aborted on failure: ends every wait (the output's read, deflate's drain). */
  private readonly failed = new AbortController();
  private wanted: (() => void) | undefined;
  private readonly onFailure: (error: Error) => void;

  /** `onFailure`: the writer's own cleanup (deflate, fragments), run once with the first failure. */
  constructor(bufferBytes: number, onFailure: (error: Error) => void) {
    this.onFailure = onFailure;
    this.readable = new Readable({
      highWaterMark: bufferBytes,
      read: () => {
        const wanted = this.wanted;
        this.wanted = undefined;
        wanted?.();
      },
    });
    this.readable.on('end', () => (this.finished = true));
    // The consumer failed and the pipeline destroyed the output: every waiting writer is released with the error.
    this.readable.on('close', () => this.fail(new ArchiveClosedError('the archive was closed before it was finished')));
    this.readable.on('error', (error: Error) => this.fail(error));
  }

  /** Queues a step after every step before it; its promise settles when the step has. */
  enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.tail.then(() => {
      this.throwIfFailed();
      return step();
    });
    // The chain goes on from a settled promise either way; a failure stays in this.failure for every later step.
    this.tail = next.catch((error: unknown) => this.fail(error as Error));
    // Steps nobody awaits (a header, an entry's end) report through the next write or finalize(), never as unhandled.
    next.catch(() => {});
    return next;
  }

  /** Resolves once every step queued so far has run, and throws the failure if there is one. */
  async settled(): Promise<void> {
    await this.tail;
    this.throwIfFailed();
  }

  /** Pushes bytes into the output; resolves once it wants more. */
  async push(bytes: Buffer): Promise<void> {
    this.throwIfFailed();
    this.offset += bytes.length;
    if (!this.readable.push(bytes)) await new Promise<void>((resolve) => this.whenWanted(resolve));
    this.throwIfFailed();
  }

  /** For a producer that pauses itself (deflate): pushes at once; when the consumer is behind, `resume` runs once it wants more. */
  pushOrPause(bytes: Buffer, pause: () => void, resume: () => void): void {
    this.offset += bytes.length;
    if (!this.readable.push(bytes)) {
      pause();
      this.whenWanted(resume);
    }
  }

  /** The last byte is out: the output ends. */
  end(): void {
    this.readable.push(null);
  }

  /** Resolves when the consumer has read the last byte; rejects with the failure if the archive fails first. */
  async ended(): Promise<void> {
    await once(this.readable, 'end', { signal: this.failed.signal }).catch(() => this.throwIfFailed());
    this.throwIfFailed();
  }

  /** An event, or the failure (not the AbortError of the wait) if the archive fails first. */
  async until(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
    try {
      await once(emitter, event, { signal: this.failed.signal });
    } catch (error) {
      this.throwIfFailed();
      throw error;
    }
  }

  fail(error: Error): void {
    if (this.finished) return;
    const first = this.failure === undefined;
    this.failure ??= error;
    this.failed.abort(this.failure);
    if (first) this.onFailure(this.failure);
    // A writer waiting for the output to want more is released; it then sees the failure.
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.();
  }

  /** Fails the archive and its output, so the upload consuming it aborts. */
  destroy(error: Error): void {
    this.fail(error);
    if (!this.readable.destroyed) this.readable.destroy(error);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private whenWanted(then: () => void): void {
    const before = this.wanted;
    this.wanted = before
      ? () => {
          before();
          then();
        }
      : then;
  }
}
