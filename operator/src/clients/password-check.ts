// Checking a known password against what a server stores, without logging in or writing:
// this is how a converged tenant's users are verified with zero writes, and how a
// password changed by hand is noticed.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ScramCredential {
  iterationCount: number;
  salt: string;
  storedKey: string;
}

/** RFC 7677 SCRAM-SHA-256 StoredKey for a password (ASCII: SASLprep leaves it as is). */
export function scramSha256StoredKey(
  password: string,
  saltBase64: string,
  iterations: number,
): Buffer {
  const salted = pbkdf2Sync(password, Buffer.from(saltBase64, 'base64'), iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return createHash('sha256').update(clientKey).digest();
}

export function scramMatches(password: string, credential: ScramCredential): boolean {
  const expected = Buffer.from(credential.storedKey, 'base64');
  const actual = scramSha256StoredKey(password, credential.salt, credential.iterationCount);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * RabbitMQ's password hashes: base64(salt[4] ‖ H(salt ‖ password)) with H = SHA-256
 * (rabbit_password_hashing_sha256, the default) or SHA-512. `salt` is for tests.
 */
export function rabbitPasswordHash(
  password: string,
  algorithm: 'sha256' | 'sha512' = 'sha256',
  salt: Buffer = randomBytes(4),
): string {
  const digest = createHash(algorithm)
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

const RABBIT_ALGORITHMS: Record<string, 'sha256' | 'sha512'> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
};

export function rabbitHashMatches(
  password: string,
  passwordHash: string,
  hashingAlgorithm: string,
): boolean {
  const algorithm = RABBIT_ALGORITHMS[hashingAlgorithm];
  const stored = Buffer.from(passwordHash, 'base64');
  if (!algorithm || stored.length < 5) return false;
  const recomputed = Buffer.from(
    rabbitPasswordHash(password, algorithm, stored.subarray(0, 4)),
    'base64',
  );
  return stored.length === recomputed.length && timingSafeEqual(stored, recomputed);
}
