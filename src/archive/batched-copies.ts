import type { Readable } from 'node:stream';
import type { ExportEntity } from '../model/entities.ts';
import { needsParts } from '../parts/json-parts.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { worthReadingAhead } from './csv-ahead.ts';
import { csvCopySql, jsonLinesCopySql, type PathsKept } from './queries.ts';
import type { EntitySize } from './survey.ts';

/** Where an entity's JSON and CSV are read from: the snapshot, one COPY at a time, or a batch of them read ahead. */
export interface CopySource {
  copy(sql: string): Readable;
}

/**
 * Entities this small (estimated JSON) are read together: a light user's
 * dozen COPYs cost a round trip each, for a few kilobytes (BENCHMARKS.md).
 * Bigger ones keep their own COPY, whose socket reads are batched.
 */
const BATCH_BELOW_BYTES = 1024 * 1024;

/**
 * The JSON and CSV of a run of small entities, in archive order, from one
 * CopyBatch on the snapshot's connection. writeEntity asks for them in the
 * order they were sent (JSON, then CSV, entity by entity), which is checked:
 * the connection is busy until the last has been read, so anything else
 * asked of this source is a mistake, not a query to queue behind it.
 */
export class BatchedCopies implements CopySource {
  private readonly statements: readonly string[];
  private readonly outputs: readonly Readable[];
  private readonly entities: ReadonlySet<ExportEntity>;
  private next = 0;

  private constructor(snapshot: Snapshot, statements: readonly string[], entities: ReadonlySet<ExportEntity>) {
    this.statements = statements;
    this.entities = entities;
    this.outputs = snapshot.copyBatch(statements);
  }

  /** A batch for the small entities at the start of `entities` (empty ones among them cost no statement); none if the first is not small. */
  static start(
    snapshot: Snapshot,
    entities: readonly ExportEntity[],
    sizeOf: (entity: ExportEntity) => EntitySize,
    limits: { maxEntryBytes: number; parallelFromBytes: number },
    userId: string,
    paths: PathsKept,
  ): BatchedCopies | undefined {
    // Neither split into parts nor read ahead: those read on their own terms.
    const small = (size: EntitySize) =>
      size.rows === 0 ||
      (size.estimatedJsonBytes < BATCH_BELOW_BYTES &&
        !worthReadingAhead(size, limits.parallelFromBytes) &&
        !needsParts(size.estimatedJsonBytes, limits.maxEntryBytes));
    const run: ExportEntity[] = [];
    for (const entity of entities) {
      if (!small(sizeOf(entity))) break;
      run.push(entity);
    }
    const statements = run
      .filter((entity) => sizeOf(entity).rows > 0)
      .flatMap((entity) => [
        jsonLinesCopySql(entity, userId, 'scan', paths),
        csvCopySql(entity, userId, 'scan', paths),
      ]);
    return statements.length > 0 ? new BatchedCopies(snapshot, statements, new Set(run)) : undefined;
  }

  covers(entity: ExportEntity): boolean {
    return this.entities.has(entity);
  }

  copy(sql: string): Readable {
    if (this.statements[this.next] !== sql)
      throw new Error(`asked for COPY ${this.next + 1} of a batch out of order, or one not in it`);
    return this.outputs[this.next++]!;
  }
}
