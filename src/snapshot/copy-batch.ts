import { Readable } from 'node:stream';
import type pg from 'pg';

/**
 * Several COPY … TO STDOUT statements sent to PostgreSQL as one message, each
 * statement's output a stream of its own, in order.
 *
 * A light user's export is a dozen small COPYs (JSON and CSV of each entity),
 * and each one on its own costs a round trip: a send and a wakeup on both
 * sides, a new stream in Node, for a few kilobytes of data (BENCHMARKS.md). In
 * one simple-query message PostgreSQL runs them one after the other inside the
 * same transaction and answers once at the end; node-postgres hands each
 * CopyData message to the active query (this one), and each statement's
 * CommandComplete ends its output.
 *
 * The outputs must be read in order, and nothing else can run on the
 * connection until the last one has ended. Backpressure holds: when an
 * output's buffer is full, the socket is paused until its reader asks for more
 * (so a later statement's output never piles up while an earlier one is read).
 * An error ends the output under way and every one after it with that error;
 * outputs already ended are whole.
 */
export class CopyBatch implements pg.Submittable {
  /** One per statement, in order. */
  readonly outputs: readonly Readable[];
  private readonly text: string;
  private current = 0;
  private stream: { pause(): unknown; resume(): unknown } | undefined;
  private paused = false;

  constructor(statements: readonly string[]) {
    if (statements.length === 0) throw new Error('a batch of COPY statements needs at least one');
    for (const sql of statements) {
      if (!/^copy\b[\s\S]*\bto stdout\b/i.test(sql))
        throw new Error(`not a COPY … TO STDOUT statement: ${sql.slice(0, 60)}`);
    }
    this.text = statements.join(';\n');
    this.outputs = statements.map(() => {
      const output = new Readable({ read: () => this.resume() });
      // Errors reach whoever reads the output; one never read must not crash the process.
      output.on('error', () => {});
      return output;
    });
  }

  submit(connection: pg.Connection): void {
    this.stream = connection.stream;
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    const output = this.outputs[this.current];
    if (!output) {
      this.fail(new Error('COPY data after the last statement of the batch'));
      return;
    }
    // node-postgres reuses its read buffer for the messages that follow: keep a copy.
    if (!output.push(Buffer.from(message.chunk)) && !this.paused) {
      this.paused = true;
      this.stream?.pause();
    }
  }

  handleCommandComplete(message: { text?: string }): void {
    const output = this.outputs[this.current];
    if (!output || !/^COPY \d+$/.test(message.text ?? '')) {
      this.fail(
        new Error(`statement ${this.current + 1} of the batch was not a COPY (${message.text ?? 'no command tag'})`),
      );
      return;
    }
    output.push(null);
    this.current++;
  }

  handleError(error: Error): void {
    this.fail(error);
  }

  handleReadyForQuery(): void {
    if (this.current < this.outputs.length) {
      this.fail(new Error(`the batch ended after ${this.current} of ${this.outputs.length} statements`));
    }
    this.resume();
  }

  handleEmptyQuery(): void {
    this.fail(new Error('an empty statement in a batch of COPY statements'));
  }

  handleRowDescription(): void {
    this.fail(new Error(`statement ${this.current + 1} of the batch returned rows, not COPY data`));
  }

  handleDataRow(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(): void {
    this.fail(new Error(`statement ${this.current + 1} of the batch is a COPY FROM`));
  }

  private fail(error: Error): void {
    for (const output of this.outputs.slice(this.current)) if (!output.destroyed) output.destroy(error);
    this.current = this.outputs.length;
    // Whatever follows (ErrorResponse, ReadyForQuery) must still reach node-postgres.
    this.resume();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.stream?.resume();
  }
}
