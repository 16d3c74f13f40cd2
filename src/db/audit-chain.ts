import { sql } from 'kysely';
import type { Db } from './connect.ts';

/**
 * The audit trail as a hash chain (sql/000010): each event's SHA-256 covers
 * the hash of the event before it and its own content. These read it back
 * for `exporter audit verify` and the daily anchor, with the content's text
 * made here, in this query, by PostgreSQL's own functions (schema-qualified),
 * the same expression exporter_event_sha256() hashes: a function someone
 * redefined in the database cannot change what is checked, and the hash
 * itself is computed in Node.
 */

/** One event as the chain holds it, with the text its hash covers. */
export interface ChainEvent {
  id: string;
  seq: bigint;
  at: Date;
  event: string;
  prevSha256: string;
  sha256: string;
  /** What its SHA-256 is computed over (json_build_array of every field). */
  content: string;
  detail: Record<string, unknown>;
}

export interface TrailHead {
  seq: bigint;
  sha256: string;
  /** When the newest event was written (none before the first seal). */
  at: Date | null;
}

/**
 * Numbers and hashes the events written since the last seal, in the order
 * they were written (sql/000010, exporter_seal_trail): what fulfill, expire
 * and work's housekeeping do at the end of their runs. Returns how many.
 */
export async function sealTrail(db: Db): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ sealed: number }>`select exporter_seal_trail(10000) as sealed`.execute(db);
    total += rows[0]!.sealed;
    if (rows[0]!.sealed < 10000) return total;
  }
}

/** Events written and not yet sealed (they join the chain at the next seal). */
export async function unsealedEvents(db: Db): Promise<number> {
  const { rows } = await sql<{
    n: number;
  }>`select count(*)::int as n from data_export_events where seq is null`.execute(db);
  return rows[0]!.n;
}

/** The trail's guards: undefined when nothing would let another role write or empty it, else what does (sql/000010, exporter_trail_guard). */
export async function trailGuardRefusal(db: Db): Promise<string | undefined> {
  try {
    await sql`select exporter_trail_guard()`.execute(db);
    return undefined;
  } catch (error) {
    const message = (error as { message?: string }).message ?? String(error);
    if (/the audit trail refuses to work/.test(message)) return message;
    throw error;
  }
}

/** The chain's genesis: the hash "before" the first event. */
export const GENESIS_SHA256 = '0'.repeat(64);

/** The newest event's number and hash, as the database keeps them (no events: 0 and the genesis). */
export async function trailHead(db: Db): Promise<TrailHead> {
  const { rows } = await sql<{ seq: string; sha256: string; at: Date | null }>`
    select h.seq::text as seq, h.sha256, (select e.at from data_export_events e where e.seq = h.seq) as at from data_export_audit_head h`.execute(
    db,
  );
  return rows[0]
    ? { seq: BigInt(rows[0].seq), sha256: rows[0].sha256, at: rows[0].at }
    : { seq: 0n, sha256: GENESIS_SHA256, at: null };
}

/** The number of the first event at or after `at` (undefined when none is). */
export async function firstSeqFrom(db: Db, at: Date): Promise<bigint | undefined> {
  const { rows } = await sql<{
    seq: string | null;
  }>`select min(seq)::text as seq from data_export_events where at >= ${at}`.execute(db);
  return rows[0]?.seq ? BigInt(rows[0].seq) : undefined;
}

/** The events from `fromSeq` on, in chain order, a page at a time (a trail of millions is never held). */
export async function* chainEvents(db: Db, fromSeq: bigint, page = 5000): AsyncGenerator<ChainEvent> {
  let after = fromSeq - 1n;
  for (;;) {
    const { rows } = await sql<{
      id: string;
      seq: string;
      at: Date;
      event: string;
      prevSha256: string;
      sha256: string;
      content: string;
      detail: Record<string, unknown>;
    }>`
      select e.id::text as id, e.seq::text as seq, e.at, e.event, e.prev_sha256 as "prevSha256", e.sha256, e.detail,
             pg_catalog.json_build_array(e.prev_sha256, e.seq, e.id, e.request_id, e.user_id,
               pg_catalog.to_char(pg_catalog.timezone('UTC', e.at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               e.event, e.actor, e.db_role, e.detail)::text as content
        from data_export_events e
       where e.seq > ${after.toString()}::bigint
       order by e.seq
       limit ${page}`.execute(db);
    for (const row of rows) yield { ...row, seq: BigInt(row.seq) };
    if (rows.length < page) return;
    after = BigInt(rows.at(-1)!.seq);
  }
}
