// The read cache's key space and entry format. Every key starts with the tenant's prefix
// (the operator's ACL user may touch nothing else). An entry's key holds the generations
// it was read under: a write bumps a generation, so every entry read before it is under a
// key nobody builds any more — it is never read again, and its TTL removes it. An entry
// holds when it was filled, so a hit on an old one can refresh it early.
import { createHash, randomInt } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** The caches and what became of each request (gorten_cache_requests_total's labels). */
export const CACHE_NAMES = ['product', 'listing', 'categories'] as const;
export type CacheName = (typeof CACHE_NAMES)[number];
export const CACHE_OUTCOMES = ['hit', 'miss', 'error', 'bypass'] as const;
export type CacheOutcome = (typeof CACHE_OUTCOMES)[number];

/** A generation's key: `<prefix>gen:<name>`. */
export function generationKey(prefix: string, name: string): string {
  return `${prefix}gen:${name}`;
}

/**
 * A generation as stored; undefined when absent (never made, expired or evicted) or not a
 * count. An absent one is never read as a number: counted up from 0 again it would bring
 * back the entries read under those numbers the first time.
 */
export function generationValue(stored: string | null | undefined): number | undefined {
  const value = stored ? Number(stored) : NaN;
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Where a generation (re)starts: a random point in [1, 2^48), so one that Redis lost and
 * that is made again meets none of its earlier numbers (bumps count up by one; 2^48 plus
 * any number of them stays a safe integer).
 */
export function freshGeneration(): number {
  return randomInt(1, 2 ** 48 - 1);
}

/**
 * An entry's key: `<prefix><cache>:<generations>:<digest of what was asked>`. What was
 * asked (an id, a listing's query) is hashed, so a long query makes no long key.
 */
export function entryKey(
  prefix: string,
  cache: CacheName,
  generations: readonly number[],
  asked: unknown,
): string {
  const digest = createHash('sha256').update(canonicalJson(asked)).digest('base64url');
  return `${prefix}${cache}:${generations.join('.')}:${digest.slice(0, 32)}`;
}

/** The lock one process takes to fill an entry while the others wait for it. */
export function fillLockKey(entry: string): string {
  return `${entry}:filling`;
}

/** An entry as stored: `<filled at, ms>:<the JSON answer>`. */
export function storedEntry(filledAtMs: number, body: string): string {
  return `${Math.trunc(filledAtMs)}:${body}`;
}

/** A stored entry read back; null for one not in this format (never served). */
export function readEntry(stored: string): { filledAtMs: number; body: string } | null {
  const colon = stored.indexOf(':');
  const filledAtMs = colon > 0 ? Number(stored.slice(0, colon)) : NaN;
  if (!Number.isSafeInteger(filledAtMs)) return null;
  return { filledAtMs, body: stored.slice(colon + 1) };
}
