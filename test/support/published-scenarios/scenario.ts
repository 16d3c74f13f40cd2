import type pg from 'pg';
import type { PublishedSchema } from '../published-schemas.ts';

/**
 * One published schema's proof (test/integration/published-schemas.test.ts):
 * how init is asked for its draft, and the people a test seeds in it.
 */
export interface Scenario {
  app: PublishedSchema;
  /** `exporter init`'s flags: the user table (schema.table where it is not on the search path), and the key where it is not the primary key. */
  userTable: string;
  userKey?: string;
  /**
   * Seeds people into the loaded schema: the person whose archive is built
   * (their user id as a request names it) and at least one other; rows
   * that involve the person alone, rows that do not involve them, rows of
   * two people (a message between them), memberships, credentials. Every
   * text a test looks for is returned:
   * - `mine`: in the person's archive once the TODOs are decided (decided.yaml),
   * - `others`: another person's, never in it (not in the unedited draft's archive either),
   * - `secrets`: credentials (a password hash, a token), never in any archive.
   */
  seed(db: pg.Pool): Promise<{ person: string; mine: string[]; others: string[]; secrets: string[] }>;
  /**
   * Whether a decided definition (decided.yaml) is committed beside the schema; without one
   * (a schema a reviewer adopted after the four, kept to hold what it found), only the
   * unedited draft is proven private.
   */
  decided: boolean;
  /** What the unedited draft's archive must not hold that no marker text can say (ids of other people's rows), as assertions. */
  draftHolds?(files: ReadonlyMap<string, Buffer>): void;
}
