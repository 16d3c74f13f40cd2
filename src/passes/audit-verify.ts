import { createHash } from 'node:crypto';
import { chainEvents, firstSeqFrom, GENESIS_SHA256, trailHead, unsealedEvents } from '../db/audit-chain.ts';
import type { Db } from '../db/connect.ts';
import type { S3Storage } from '../storage/s3-storage.ts';
import { type Anchor, readAnchors } from './anchor.ts';

/**
 * `exporter audit verify`: the audit trail checked end to end, from the
 * database and the anchors alone. Every event's SHA-256 is computed again
 * from its content; each must name the one before it; the numbers run without
 * a gap, from 1 or from a retention cut the trail itself records; the head
 * must be the newest event; and every anchor must still be reached: an
 * anchor names an event by number and hash, so a history rewritten after it
 * (each later hash recomputed) is found even though it is consistent in
 * itself. The first thing that does not hold is named, with the event's id.
 */

export interface VerifyProblem {
  /** The event's number where there is one. */
  seq?: string;
  /** The event's id where there is one. */
  eventId?: string;
  what: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Events whose hashes were computed. */
  events: number;
  firstSeq: string | null;
  lastSeq: string | null;
  /** Events before the first that a retention cut removed. */
  prunedThrough: string | null;
  /** Events written since the last seal: not yet in the chain (the next fulfill, expire or housekeeping seals them). */
  unsealed: number;
  /** Anchors checked against the event they name; before the first event kept (covered by a retention cut); unreadable; kept by S3 Object Lock. */
  anchors: { checked: number; beforeFirstEvent: number; unreadable: number; locked: number; newest: string | null };
  /** How many things did not hold. */
  problems: number;
  /** The first of them, in the chain's order. */
  problem?: VerifyProblem;
}

interface Cut {
  throughSeq: bigint;
  throughSha256: string;
  /** When the cut was made, and the retention it kept (at least 30 days). */
  at: Date;
  retentionMs: number;
}

/** An anchor at most this old must exist: nightly and work's housekeeping write one a day. */
const ANCHOR_GAP_MS = 2 * 86_400_000;
/** The shortest retention the database allows (exporter_prune_audit). */
const MIN_RETENTION_MS = 30 * 86_400_000;

/**
 * Verifies the whole trail, or (`from`) the events from that time on, taking
 * the first one's link on trust. `retentionSeconds` (EXPORT_AUDIT_RETENTION):
 * no event anchored more recently than that may be gone.
 */
export async function verifyTrail(
  db: Db,
  storage: S3Storage,
  options: { from?: Date; retentionSeconds: number; now: Date },
): Promise<VerifyResult> {
  const anchors = new Map<bigint, { key: string; anchor: Anchor }>();
  const result: VerifyResult = {
    ok: true,
    events: 0,
    firstSeq: null,
    lastSeq: null,
    prunedThrough: null,
    unsealed: await unsealedEvents(db),
    anchors: { checked: 0, beforeFirstEvent: 0, unreadable: 0, locked: 0, newest: null },
    problems: 0,
  };
  // Only the first problem is kept (a trail of millions of changed events must not fill memory), and how many there were.
  let earliest: (VerifyProblem & { order: bigint }) | undefined;
  const problems = {
    push(p: VerifyProblem & { order: bigint }) {
      result.problems++;
      if (!earliest || p.order < earliest.order) earliest = p;
    },
  };
  for await (const { key, anchor } of readAnchors(storage)) {
    if (anchor) {
      anchors.set(BigInt(anchor.seq), { key, anchor });
      if (!result.anchors.newest || anchor.anchored_at > result.anchors.newest)
        result.anchors.newest = anchor.anchored_at;
      if (await storage.retainedUntil(key)) result.anchors.locked++;
    } else {
      result.anchors.unreadable++;
      problems.push({ order: -1n, what: `the anchor ${key} cannot be read` });
    }
  }

  const from = options.from ? await firstSeqFrom(db, options.from) : 1n;
  const cuts: Cut[] = [];
  let first: { seq: bigint; prevSha256: string; id: string; at: Date } | undefined;
  let previous: { seq: bigint; sha256: string } | undefined;
  for await (const e of from === undefined ? [] : chainEvents(db, from)) {
    result.events++;
    first ??= { seq: e.seq, prevSha256: e.prevSha256, id: e.id, at: e.at };
    const where = { seq: e.seq.toString(), eventId: e.id, order: e.seq };
    if (createHash('sha256').update(e.content, 'utf8').digest('hex') !== e.sha256) {
      problems.push({
        ...where,
        what: `event ${e.id} (seq ${e.seq}) does not match its hash: it was changed after it was written`,
      });
    }
    if (previous && e.seq !== previous.seq + 1n) {
      problems.push({
        ...where,
        what: `the events numbered ${previous.seq + 1n} to ${e.seq - 1n}, before event ${e.id}, are missing: they were removed`,
      });
    } else if (previous && e.prevSha256 !== previous.sha256) {
      problems.push({
        ...where,
        what: `event ${e.id} (seq ${e.seq}) does not follow the event before it: one of the two was replaced`,
      });
    }
    const anchored = anchors.get(e.seq);
    if (anchored) {
      result.anchors.checked++;
      if (anchored.anchor.sha256 !== e.sha256) {
        problems.push({
          ...where,
          what: `the anchor ${anchored.key} holds another hash for event ${e.id} (seq ${e.seq}): the trail up to it was rewritten after ${anchored.anchor.anchored_at}`,
        });
      }
    }
    if (e.event === 'pruned') {
      const retentionMs = Math.max(Number(e.detail.retention_seconds ?? 0) * 1000, MIN_RETENTION_MS);
      cuts.push({
        throughSeq: BigInt(String(e.detail.through_seq)),
        throughSha256: String(e.detail.through_sha256),
        at: e.at,
        retentionMs,
      });
      // A cut deletes only what the retention allows: nothing younger than 30 days when it was made.
      const throughAt = new Date(String(e.detail.through_at));
      if (!(e.at.getTime() - throughAt.getTime() >= MIN_RETENTION_MS)) {
        problems.push({
          ...where,
          what: `the retention cut ${e.id} (seq ${e.seq}) says it deleted events up to ${String(e.detail.through_at)}, younger than the 30 days the retention keeps: it was forged`,
        });
      }
    }
    previous = e;
  }

  if (first && from === 1n) {
    // The first event: the chain's start, or the first after a cut the trail records (the retention's own event, itself chained).
    const cut = cuts.find((c) => c.throughSeq === first!.seq - 1n);
    if (first.seq === 1n ? first.prevSha256 !== GENESIS_SHA256 : !cut || cut.throughSha256 !== first.prevSha256) {
      problems.push({
        seq: first.seq.toString(),
        eventId: first.id,
        order: first.seq,
        what: `the events before event ${first.id} (seq ${first.seq}) are missing, and no retention cut accounts for them`,
      });
    }
    if (cut) result.prunedThrough = cut.throughSeq.toString();
  }
  const firstSeq = first?.seq ?? (await trailHead(db)).seq + 1n;
  for (const [seq, { key, anchor }] of anchors) {
    if (seq >= firstSeq && (!previous || seq > previous.seq)) {
      problems.push({
        order: seq,
        seq: seq.toString(),
        what: `the anchor ${key} names event ${seq}, which is gone: the newest events were removed`,
      });
    } else if (seq < firstSeq) {
      result.anchors.beforeFirstEvent++;
      if (from !== 1n) continue;
      // Gone before the first event kept: only a retention cut may have deleted it, and only once it was older than the retention.
      const cut = cuts.find((c) => c.throughSeq >= seq);
      if (!cut)
        problems.push({
          order: seq,
          seq: seq.toString(),
          what: `the anchor ${key} names event ${seq}, before the first event kept, and no retention cut accounts for it: the trail before event ${firstSeq} was removed or renumbered`,
        });
      else if (anchor.event_at && Date.parse(anchor.event_at) > cut.at.getTime() - cut.retentionMs) {
        problems.push({
          order: seq,
          seq: seq.toString(),
          what: `the anchor ${key} names event ${seq}, written ${anchor.event_at}, which the retention still kept when the cut of ${cut.at.toISOString()} says it was deleted: the trail before event ${firstSeq} was removed or renumbered`,
        });
      }
    }
  }
  // A trail with events older than the gap and no anchor that recent: nothing outside the database vouches for it.
  if (
    first &&
    from === 1n &&
    options.now.getTime() - first.at.getTime() > ANCHOR_GAP_MS &&
    (!result.anchors.newest || options.now.getTime() - Date.parse(result.anchors.newest) > ANCHOR_GAP_MS)
  ) {
    problems.push({
      order: (previous?.seq ?? 0n) + 2n,
      what: `the trail was last anchored ${result.anchors.newest ?? 'never'}, and holds events older than two days: run nightly or work, which anchor it once a day`,
    });
  }
  const head = await trailHead(db);
  if (previous && (head.seq !== previous.seq || head.sha256 !== previous.sha256)) {
    problems.push({
      order: previous.seq + 1n,
      what: `the trail's head says event ${head.seq} is the newest, but the newest is ${previous.seq}: events were removed or the head was changed`,
    });
  }

  result.firstSeq = first ? first.seq.toString() : null;
  result.lastSeq = previous ? previous.seq.toString() : null;
  if (earliest) {
    const { order: _order, ...problem } = earliest;
    result.ok = false;
    result.problem = problem;
  }
  return result;
}
