import {
  ArchiveTooLargeError,
  FileSourceError,
  NotAUserIdError,
  RowNotWritableError,
} from '../archive/archive-errors.ts';
import { UserNotFoundError } from '../archive/write-archive.ts';
import { publicErrorText } from '../public-error.ts';

/** What a failed build means for its request: retried after a backoff, or failed for good, and the words the request's `error` shows. */
export interface FailureVerdict {
  final: boolean;
  publicText: string;
}

/**
 * Failures that say something of their own, in one table: the first rule
 * that matches decides. Anything else (the database, the storage, a
 * timeout) is a passing cause, retried, and shown by its category and code
 * only (publicErrorText), never its message.
 */
const RULES: readonly { matches: (error: unknown) => boolean; final: boolean; text: (error: unknown) => string }[] = [
  // The user was deleted: nothing left to export, ever.
  { matches: (e) => e instanceof UserNotFoundError, final: true, text: () => 'the user no longer exists' },
  // An id no user can have (src/model/user-id.ts): the next attempt would read the same id.
  { matches: (e) => e instanceof NotAUserIdError, final: true, text: () => 'not a user id' },
  // Over EXPORT_MAX_ARCHIVE_BYTES or EXPORT_MAX_FILES: the next attempt would be as large.
  {
    matches: (e) => e instanceof ArchiveTooLargeError,
    final: true,
    text: (e) => (e as ArchiveTooLargeError).publicText,
  },
  // A value PostgreSQL cannot write as JSON or CSV: every attempt would stop at the same row.
  { matches: (e) => e instanceof RowNotWritableError, final: true, text: (e) => (e as RowNotWritableError).publicText },
  // A file source that kept failing: an outage passes, so the request is retried rather than delivered with a hole.
  { matches: (e) => e instanceof FileSourceError, final: false, text: (e) => (e as FileSourceError).publicText },
];

export function classifyFailure(error: unknown): FailureVerdict {
  const rule = RULES.find((r) => r.matches(error));
  return rule
    ? { final: rule.final, publicText: rule.text(error) }
    : { final: false, publicText: publicErrorText(error, 'building the export') };
}
