import { formatBytes } from '../byte-sizes.ts';

/** A file could not be read after every try: the request is retried later rather than delivered with a hole. */
export class FileSourceError extends Error {
  override name = 'FileSourceError';
  /** For the request's `error`, which the application may show: no key, no URL. */
  readonly publicText: string;
  constructor(source: string, cause: unknown) {
    super(`a file could not be read from source ${source}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.publicText = `a file could not be read from its source (${source})`;
  }
}

/**
 * The archive is too large, for good: refused before the first byte by its
 * estimate (`expected`) or by the number of files it would hold (`files`),
 * or stopped while it was written, when the bytes that really came passed
 * EXPORT_MAX_ARCHIVE_BYTES (`written`: an estimate that was short, a size
 * column that understated a file).
 */
export class ArchiveTooLargeError extends Error {
  override name = 'ArchiveTooLargeError';
  /** For the request's `error`, which the application may show. */
  readonly publicText: string;
  private constructor(message: string, publicText: string) {
    super(message);
    this.publicText = publicText;
  }

  static expected(bytes: number, max: number): ArchiveTooLargeError {
    return new ArchiveTooLargeError(
      `the export would hold about ${formatBytes(bytes)} before compression, more than EXPORT_MAX_ARCHIVE_BYTES (${formatBytes(max)})`,
      `the export is too large: about ${formatBytes(bytes)}, more than the ${formatBytes(max)} one archive may hold`,
    );
  }

  static written(bytes: number, max: number): ArchiveTooLargeError {
    return new ArchiveTooLargeError(
      `the export passed EXPORT_MAX_ARCHIVE_BYTES (${formatBytes(max)}) while it was written (${formatBytes(bytes)} before compression); its estimate was short`,
      `the export is too large: more than the ${formatBytes(max)} one archive may hold`,
    );
  }

  static files(files: number, max: number): ArchiveTooLargeError {
    return new ArchiveTooLargeError(
      `the export would hold ${files} of the user's files, more than EXPORT_MAX_FILES (${max})`,
      `the export is too large: ${files} files, more than the ${max} one archive may hold`,
    );
  }
}

/**
 * A row PostgreSQL cannot turn into the archive's JSON or CSV: a data
 * exception (SQLSTATE class 22) or a limit (class 54, a value nested deeper
 * than the session's stack allows), found again by asking for each column
 * alone (unwritable-row.ts). Every attempt would fail the same way, so the
 * request fails for good, naming the entity and the column: a definition's
 * matter, not an outage.
 */
export class RowNotWritableError extends Error {
  override name = 'RowNotWritableError';
  /** For the request's `error`, which the application may show: names from the definition and the SQLSTATE, never the value. */
  readonly publicText: string;
  constructor(entity: string, column: string | undefined, cause: { code: string; message: string }) {
    const where = column === undefined ? '' : ` (column ${column})`;
    super(`a row of ${entity} cannot be written${where}: PostgreSQL ${cause.code}: ${cause.message}`, { cause });
    this.publicText = `a row of ${entity} cannot be exported${where}: database error ${cause.code}`;
  }
}

/** A data exception or a limit: PostgreSQL refused a value, and would refuse it again. */
export function isRowDataError(error: unknown): error is { code: string; message: string } {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|54)[0-9A-Z]{3}$/.test(code);
}

/** A request whose user id no user key can be (src/model/user-id.ts): made before the database checked it, and never buildable. */
export class NotAUserIdError extends Error {
  override name = 'NotAUserIdError';
  constructor(userId: string) {
    super(`not a user id: ${JSON.stringify([...userId].slice(0, 100).join(''))}`);
  }
}
