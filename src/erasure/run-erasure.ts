import { createHash, createHmac } from 'node:crypto';
import type pg from 'pg';
import type { ClaimedErasure } from '../db/erasures.ts';
import type { FileSources } from '../files/sources.ts';
import type { Logger } from '../log.ts';
import type { ExportEntity } from '../model/entities.ts';
import type { ErasurePlan } from '../model/erasure.ts';
import { ErasureBatches } from './batches.ts';
import type { ErasureSecrets } from './erasure-sql.ts';
import { ErasureRefusedError, ghostProblems, ghostProblemText } from './ghost.ts';
import { prove } from './proof.ts';
import { eraseEntity } from './steps.ts';

/** What one erasure needs: the database, the person's files' sources, the plan, and how it goes. */
export interface ErasureRun {
  pool: pg.Pool;
  log: Logger;
  files: FileSources;
  plan: ErasurePlan;
  /** The export's entities, for the proof: the person's export must find nothing erased. */
  exported: readonly ExportEntity[];
  /** EXPORT_ERASE_HMAC_KEY, where a rule says hmac. */
  hmacKey?: string;
  batch: number;
  lockTimeoutMs: number;
  claimTtlSeconds: number;
  signal: AbortSignal;
}

/** What was done, entity by entity: counts only (the trail and the person's email carry it, never the data). */
export interface ErasureReceipt {
  entities: Record<string, { rule: string; why?: string; counts: Record<string, number>; filesElsewhere?: string[] }>;
  reason: string;
  requestedBy: string;
  requestedAt: string;
  completedAt: string;
}

/**
 * Carries out one claimed erasure: each entity in the plan's order (what
 * hangs from other rows first, the person's own row last), then the proof;
 * returns the receipt. Resumes where a stopped run left it (the progress the
 * claim carries). Throws on a failure or a residue; the caller records it.
 */
export async function eraseClaimed(run: ErasureRun, claimed: ClaimedErasure): Promise<ErasureReceipt> {
  const batches = new ErasureBatches(run.pool, claimed, {
    lockTimeoutMs: run.lockTimeoutMs,
    claimTtlSeconds: run.claimTtlSeconds,
  });
  const context = {
    batches,
    files: run.files,
    secrets: secretsOf(run, claimed.userId),
    erasureId: claimed.id,
    batch: run.batch,
    log: run.log,
    signal: run.signal,
  };
  const ghost = await ghostProblems(run.plan, (text, params) => batches.read(text, params));
  const problem = ghostProblemText(run.plan, ghost);
  if (problem) throw ghost.isGhost ? new ErasureRefusedError(problem) : new Error(problem);
  for (const entity of run.plan.entities) await eraseEntity(entity, context);
  await prove(run.plan, run.exported, batches, claimed.id);
  return receiptOf(run.plan, batches.progress, claimed);
}

function secretsOf(run: ErasureRun, userId: string): ErasureSecrets {
  const needsHmac = run.plan.entities.some((e) => e.columns.some((c) => c.strategy.kind === 'hmac'));
  if (needsHmac && !run.hmacKey) throw new Error('a rule says hmac, and EXPORT_ERASE_HMAC_KEY is not set');
  return {
    ...(run.plan.ghostUser !== undefined ? { ghostUser: run.plan.ghostUser } : {}),
    ...(needsHmac ? { hmac: hmacPads(personKey(run.hmacKey!, userId)) } : {}),
  };
}

/**
 * The key a person's pseudonyms are made with: HMAC-SHA256(EXPORT_ERASE_HMAC_KEY,
 * their key). Its pads travel to PostgreSQL as parameters, which a server
 * logging its statements' parameters (log_min_duration_statement) may write
 * down: what such a log gives away is this one person's key, never the
 * deployment's. The same person's same value gets the same pseudonym
 * everywhere; two people's the same value, two.
 */
export function personKey(deploymentKey: string, userId: string): Buffer {
  return createHmac('sha256', deploymentKey).update(userId, 'utf8').digest();
}

/**
 * HMAC-SHA256's pads for a key (RFC 2104): the key hashed when longer than
 * the block, padded to 64 bytes, XORed with 0x36 and 0x5c. PostgreSQL then
 * computes H(outer || H(inner || value)) with its own sha256(): the same
 * pseudonym Node's createHmac gives (erasure.test.ts compares them).
 */
export function hmacPads(key: string | Buffer): { inner: Buffer; outer: Buffer } {
  let block = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (block.length > 64) block = createHash('sha256').update(block).digest();
  const padded = Buffer.alloc(64);
  block.copy(padded);
  return { inner: Buffer.from(padded.map((b) => b ^ 0x36)), outer: Buffer.from(padded.map((b) => b ^ 0x5c)) };
}

function receiptOf(plan: ErasurePlan, progress: ErasureBatches['progress'], claimed: ClaimedErasure): ErasureReceipt {
  const entities: ErasureReceipt['entities'] = {};
  for (const e of plan.entities) {
    const counts = { ...(progress[e.name]?.counts ?? {}) };
    entities[e.name] = {
      rule: e.rule,
      ...(e.why ? { why: e.why } : {}),
      counts,
      ...(e.filesElsewhere.length > 0 ? { filesElsewhere: [...e.filesElsewhere] } : {}),
    };
  }
  return {
    entities,
    reason: claimed.reason,
    requestedBy: claimed.requestedBy,
    requestedAt: new Date(claimed.requestedAt).toISOString(),
    completedAt: new Date().toISOString(),
  };
}
