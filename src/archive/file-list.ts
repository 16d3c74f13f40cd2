import { StringDecoder } from 'node:string_decoder';
import type { ExportEntity, ExportFile } from '../model/entities.ts';
import { BinaryTextRows } from '../snapshot/binary-rows.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { Spool } from '../snapshot/spool.ts';
import type { FileRef } from './file-entry.ts';
import { fileListCopySql } from './queries.ts';

/** One of the user's files as the list names it: whose rows point at it, through which file column. */
export interface ListedFile {
  entity: ExportEntity;
  file: ExportFile;
  ref: FileRef;
}

/**
 * The user's files, listed in the export's first snapshot and kept until
 * they are written, so that the snapshot closes before the first of them
 * downloads: a transaction held open while a user's gigabytes of media
 * download holds back vacuum on the application's primary for as long, and
 * meets every production database's idle-in-transaction timeout. The list
 * waits on disk (a spool in spoolDir, unlinked at once) or, where there is
 * none, in memory: it is one line of JSON per file, at most
 * EXPORT_MAX_FILES of them. It can be read more than once (the plan's
 * sizes, then the files), always in the same order: entity by entity, file
 * column by file column, in path order.
 */
export class FileList {
  private readonly spool: Spool | null;
  private readonly held: Buffer[] = [];
  /** The (entity, file column) pairs in list order; each line of a group's start names its index here. */
  private readonly groups: { entity: ExportEntity; file: ExportFile }[] = [];

  private constructor(spool: Spool | null) {
    this.spool = spool;
  }

  static async read(
    snapshot: Snapshot,
    entities: readonly ExportEntity[],
    userId: string,
    spoolDir: string | null,
  ): Promise<FileList> {
    const list = new FileList(spoolDir ? await Spool.create(spoolDir) : null);
    try {
      for (const entity of entities) {
        for (const file of entity.files) {
          // A group's first line is its index (a JSON number); every other line is a FileRef (a JSON object).
          await list.append(Buffer.from(`${list.groups.length}\n`));
          list.groups.push({ entity, file });
          const rows = new BinaryTextRows();
          for await (const chunk of snapshot.copy(fileListCopySql(entity, file, userId)) as AsyncIterable<Buffer>)
            await list.append(rows.push(chunk));
          rows.end();
        }
      }
      return list;
    } catch (error) {
      await list.close();
      throw error;
    }
  }

  private async append(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    if (this.spool) await this.spool.append(chunk);
    else this.held.push(chunk);
  }

  /** Every file, in list order. */
  async *entries(): AsyncGenerator<ListedFile> {
    let group: { entity: ExportEntity; file: ExportFile } | undefined;
    let rest = '';
    const utf8 = new StringDecoder('utf8'); // a character may span two chunks
    for await (const chunk of this.spool ? this.spool.drain() : this.held) {
      const lines = (rest + utf8.write(chunk)).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('{')) yield { ...group!, ref: JSON.parse(line) as FileRef };
        else group = this.groups[Number(line)];
      }
    }
    if (rest + utf8.end() !== '') throw new Error('the list of files ended inside a line');
  }

  async close(): Promise<void> {
    this.held.length = 0;
    await this.spool?.close();
  }
}
