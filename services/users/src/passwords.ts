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

async function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  try {
    return await derivations.execute(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) =>
            err ? reject(err) : resolve(key),
          );
        }),
    );
  } catch (err) {
    if (!(err instanceof BulkheadRejectedError)) throw err;
    const busy = new Problem(503, 'Service Unavailable', 'Too many sign-ins at once; try again.');
    busy.headers['Retry-After'] = '2';
    throw busy;
  }
}

export async function hashPassword(password: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
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
  const key = await derive(password, parsed.salt, parsed.cost);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

export function needsRehash(stored: string, cost: ScryptCost): boolean {
  const parsed = parse(stored);
  return (
    !parsed || parsed.cost.log2N < cost.log2N || parsed.cost.r < cost.r || parsed.cost.p < cost.p
  );
}
