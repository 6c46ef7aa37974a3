// Password hashing with scrypt, a memory-hard KDF built into Node. The parameters travel
// in the stored string (`scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`), so raising the cost
// later still verifies old hashes, and `needsRehash` tells login to upgrade them.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Problem } from '@gorten/kit';
import { bulkhead, BulkheadRejectedError } from 'cockatiel';

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost; OWASP's minimum for scrypt is 17 (128 MiB with r = 8). */
  log2N: number;
  r: number;
  p: number;
}

export const DEFAULT_COST: ScryptCost = { log2N: 17, r: 8, p: 1 };
const KEY_LENGTH = 32;

// Each derivation holds 128 N r bytes (128 MiB at the default cost): two at a time keep a
// burst of logins within the pod's memory limit; the rest wait their turn, and beyond
// that queue the answer is 503 rather than an out-of-memory kill.
const DERIVATIONS_AT_ONCE = 2;
const DERIVATIONS_WAITING = 100;
const derivations = bulkhead(DERIVATIONS_AT_ONCE, DERIVATIONS_WAITING);

// Anyone can send registrations, as many as they like, and nothing throttles them (login
// attempts are counted per address before they reach here). So registration passes a
// gate of its own first: one at a time, a short queue, and 503 at once beyond it. It then
// holds at most one of the two derivations and one place in their queue, and a flood of
// registrations leaves sign-ins the other derivation.
const REGISTRATIONS_AT_ONCE = 1;
const REGISTRATIONS_WAITING = 4;
const registrations = bulkhead(REGISTRATIONS_AT_ONCE, REGISTRATIONS_WAITING);

/** Who the derivation is for: registration has its own, smaller share. */
export type DerivationLane = 'sign-in' | 'registration';

const BUSY: Record<DerivationLane, string> = {
  'sign-in': 'Too many sign-ins at once; try again.',
  registration: 'Too many registrations at once; try again.',
};

async function derive(
  password: string,
  salt: Buffer,
  cost: ScryptCost,
  lane: DerivationLane,
): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  const inTurn = () =>
    derivations.execute(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) =>
            err ? reject(err) : resolve(key),
          );
        }),
    );
  try {
    return await (lane === 'registration' ? registrations.execute(inTurn) : inTurn());
  } catch (err) {
    if (!(err instanceof BulkheadRejectedError)) throw err;
    const busy = new Problem(503, 'Service Unavailable', BUSY[lane]);
    busy.headers['Retry-After'] = '2';
    throw busy;
  }
}

export async function hashPassword(
  password: string,
  cost: ScryptCost,
  lane: DerivationLane = 'sign-in',
): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost, lane);
  return [
    'scrypt',
    cost.log2N,
    cost.r,
    cost.p,
    salt.toString('base64'),
    key.toString('base64'),
  ].join('$');
}

function parse(stored: string): { cost: ScryptCost; salt: Buffer; key: Buffer } | undefined {
  const [scheme, log2N, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !log2N || !r || !p || !salt || !key) return undefined;
  return {
    cost: { log2N: Number(log2N), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt, 'base64'),
    key: Buffer.from(key, 'base64'),
  };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.cost, 'sign-in');
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

export function needsRehash(stored: string, cost: ScryptCost): boolean {
  const parsed = parse(stored);
  return (
    !parsed || parsed.cost.log2N < cost.log2N || parsed.cost.r < cost.r || parsed.cost.p < cost.p
  );
}
