import { createHash } from 'node:crypto';
import {
  type ChainEvent,
  chainEvents,
  firstSeqFrom,
  GENESIS_SHA256,
  trailHead,
  unsealedEvents,
} from '../db/audit-chain.ts';
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

type Ordered = VerifyProblem & { order: bigint };

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
  const v = new Verification(await unsealedEvents(db));
  await v.readAnchors(storage);
  const from = options.from ? await firstSeqFrom(db, options.from) : 1n;
  for await (const e of from === undefined ? [] : chainEvents(db, from)) v.event(e);
  const whole = from === 1n;
  if (whole) v.checkStart();
  v.checkAnchorsOutside(v.first?.seq ?? (await trailHead(db)).seq + 1n, whole);
  if (whole) v.checkRecentAnchor(options.now);
  v.checkHead(await trailHead(db));
  return v.done();
}

/** One verification: what it has seen, and the first thing that did not hold. */
class Verification {
  readonly result: VerifyResult;
  readonly anchors = new Map<bigint, { key: string; anchor: Anchor }>();
  readonly cuts: Cut[] = [];
  first: { seq: bigint; prevSha256: string; id: string; at: Date } | undefined;
  previous: { seq: bigint; sha256: string } | undefined;
  /** Only the first problem is kept (a trail of millions of changed events must not fill memory), and how many there were. */
  private earliest: Ordered | undefined;

  constructor(unsealed: number) {
    this.result = {
      ok: true,
      events: 0,
      firstSeq: null,
      lastSeq: null,
      prunedThrough: null,
      unsealed,
      anchors: { checked: 0, beforeFirstEvent: 0, unreadable: 0, locked: 0, newest: null },
      problems: 0,
    };
  }

  problem(p: Ordered): void {
    this.result.problems++;
    if (!this.earliest || p.order < this.earliest.order) this.earliest = p;
  }

  async readAnchors(storage: S3Storage): Promise<void> {
    const counts = this.result.anchors;
    for await (const { key, anchor } of readAnchors(storage)) {
      if (anchor) {
        this.anchors.set(BigInt(anchor.seq), { key, anchor });
        if (!counts.newest || anchor.anchored_at > counts.newest) counts.newest = anchor.anchored_at;
        if (await storage.retainedUntil(key)) counts.locked++;
      } else {
        counts.unreadable++;
        this.problem({ order: -1n, what: `the anchor ${key} cannot be read` });
      }
    }
  }

  /** One event: its hash, its place in the chain, the anchor that names it, the cut it records. */
  event(e: ChainEvent): void {
    this.result.events++;
    this.first ??= { seq: e.seq, prevSha256: e.prevSha256, id: e.id, at: e.at };
    const where = { seq: e.seq.toString(), eventId: e.id, order: e.seq };
    if (createHash('sha256').update(e.content, 'utf8').digest('hex') !== e.sha256) {
      this.problem({
        ...where,
        what: `event ${e.id} (seq ${e.seq}) does not match its hash: it was changed after it was written`,
      });
    }
    const previous = this.previous;
    if (previous && e.seq !== previous.seq + 1n) {
      this.problem({
        ...where,
        what: `the events numbered ${previous.seq + 1n} to ${e.seq - 1n}, before event ${e.id}, are missing: they were removed`,
      });
    } else if (previous && e.prevSha256 !== previous.sha256) {
      this.problem({
        ...where,
        what: `event ${e.id} (seq ${e.seq}) does not follow the event before it: one of the two was replaced`,
      });
    }
    const anchored = this.anchors.get(e.seq);
    if (anchored) {
      this.result.anchors.checked++;
      if (anchored.anchor.sha256 !== e.sha256) {
        this.problem({
          ...where,
          what: `the anchor ${anchored.key} holds another hash for event ${e.id} (seq ${e.seq}): the trail up to it was rewritten after ${anchored.anchor.anchored_at}`,
        });
      }
    }
    if (e.event === 'pruned') this.cut(e, where);
    this.previous = e;
  }

  /** A retention cut the trail records: it deletes only what the retention allows, nothing younger than 30 days when it was made. */
  private cut(e: ChainEvent, where: Omit<Ordered, 'what'>): void {
    const retentionMs = Math.max(Number(e.detail.retention_seconds ?? 0) * 1000, MIN_RETENTION_MS);
    this.cuts.push({
      throughSeq: BigInt(String(e.detail.through_seq)),
      throughSha256: String(e.detail.through_sha256),
      at: e.at,
      retentionMs,
    });
    const throughAt = new Date(String(e.detail.through_at));
    if (!(e.at.getTime() - throughAt.getTime() >= MIN_RETENTION_MS)) {
      this.problem({
        ...where,
        what: `the retention cut ${e.id} (seq ${e.seq}) says it deleted events up to ${String(e.detail.through_at)}, younger than the 30 days the retention keeps: it was forged`,
      });
    }
  }

  /** The first event: the chain's start, or the first after a cut the trail records (the retention's own event, itself chained). */
  checkStart(): void {
    const first = this.first;
    if (!first) return;
    const cut = this.cuts.find((c) => c.throughSeq === first.seq - 1n);
    if (first.seq === 1n ? first.prevSha256 !== GENESIS_SHA256 : !cut || cut.throughSha256 !== first.prevSha256) {
      this.problem({
        seq: first.seq.toString(),
        eventId: first.id,
        order: first.seq,
        what: `the events before event ${first.id} (seq ${first.seq}) are missing, and no retention cut accounts for them`,
      });
    }
    if (cut) this.result.prunedThrough = cut.throughSeq.toString();
  }

  /** Anchors naming an event not seen: gone from the end (removed), or before the first kept (only a cut may have deleted it). */
  checkAnchorsOutside(firstSeq: bigint, whole: boolean): void {
    for (const [seq, { key, anchor }] of this.anchors) {
      if (seq >= firstSeq && (!this.previous || seq > this.previous.seq)) {
        this.problem({
          order: seq,
          seq: seq.toString(),
          what: `the anchor ${key} names event ${seq}, which is gone: the newest events were removed`,
        });
      } else if (seq < firstSeq) {
        this.result.anchors.beforeFirstEvent++;
        if (whole) this.checkBeforeFirst(seq, key, anchor, firstSeq);
      }
    }
  }

  /** Gone before the first event kept: only a retention cut may have deleted it, and only once it was older than the retention. */
  private checkBeforeFirst(seq: bigint, key: string, anchor: Anchor, firstSeq: bigint): void {
    const cut = this.cuts.find((c) => c.throughSeq >= seq);
    if (!cut)
      this.problem({
        order: seq,
        seq: seq.toString(),
        what: `the anchor ${key} names event ${seq}, before the first event kept, and no retention cut accounts for it: the trail before event ${firstSeq} was removed or renumbered`,
      });
    else if (anchor.event_at && Date.parse(anchor.event_at) > cut.at.getTime() - cut.retentionMs) {
      this.problem({
        order: seq,
        seq: seq.toString(),
        what: `the anchor ${key} names event ${seq}, written ${anchor.event_at}, which the retention still kept when the cut of ${cut.at.toISOString()} says it was deleted: the trail before event ${firstSeq} was removed or renumbered`,
      });
    }
  }

  /** A trail with events older than the gap and no anchor that recent: nothing outside the database vouches for it. */
  checkRecentAnchor(now: Date): void {
    const newest = this.result.anchors.newest;
    if (!this.first || now.getTime() - this.first.at.getTime() <= ANCHOR_GAP_MS) return;
    if (newest && now.getTime() - Date.parse(newest) <= ANCHOR_GAP_MS) return;
    this.problem({
      order: (this.previous?.seq ?? 0n) + 2n,
      what: `the trail was last anchored ${newest ?? 'never'}, and holds events older than two days: run nightly or work, which anchor it once a day`,
    });
  }

  /** The head must be the newest event. */
  checkHead(head: { seq: bigint; sha256: string }): void {
    const previous = this.previous;
    if (previous && (head.seq !== previous.seq || head.sha256 !== previous.sha256)) {
      this.problem({
        order: previous.seq + 1n,
        what: `the trail's head says event ${head.seq} is the newest, but the newest is ${previous.seq}: events were removed or the head was changed`,
      });
    }
  }

  done(): VerifyResult {
    const result = this.result;
    result.firstSeq = this.first ? this.first.seq.toString() : null;
    result.lastSeq = this.previous ? this.previous.seq.toString() : null;
    if (this.earliest) {
      const { order: _order, ...problem } = this.earliest;
      result.ok = false;
      result.problem = problem;
    }
    return result;
  }
}
