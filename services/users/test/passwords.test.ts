// The password KDF: scrypt at the production cost, parameters stored with the hash, and
// how many derivations run at once for sign-ins and for registrations.
import { DEFAULT_COST, hashPassword, needsRehash, verifyPassword } from '../src/passwords.js';

test('hashes at the production cost (scrypt N = 2^17, r = 8) and verifies only the right password', async () => {
  const stored = await hashPassword('correct horse battery', DEFAULT_COST);
  expect(stored).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  expect(await verifyPassword('correct horse battery', stored)).toBe(true);
  expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
});

test('salts every hash', async () => {
  const cost = { log2N: 12, r: 8, p: 1 };
  expect(await hashPassword('same', cost)).not.toBe(await hashPassword('same', cost));
});

test('compares composed and decomposed Unicode as the same password', async () => {
  const stored = await hashPassword('caf\u00e9 au lait!', { log2N: 12, r: 8, p: 1 });
  expect(await verifyPassword('cafe\u0301 au lait!', stored)).toBe(true);
});

test('old, cheaper hashes still verify and are marked for an upgrade', async () => {
  const old = await hashPassword('pw', { log2N: 12, r: 8, p: 1 });
  expect(await verifyPassword('pw', old)).toBe(true);
  expect(needsRehash(old, DEFAULT_COST)).toBe(true);
  expect(needsRehash(await hashPassword('pw', DEFAULT_COST), DEFAULT_COST)).toBe(false);
  expect(await verifyPassword('pw', 'md5$abc')).toBe(false);
  expect(needsRehash('md5$abc', DEFAULT_COST)).toBe(true);
});

test('derives two keys at a time, queues a hundred, and answers 503 beyond that', async () => {
  const cheap = { log2N: 14, r: 8, p: 1 };
  const stored = await hashPassword('pw', cheap);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 110 }, () => verifyPassword('pw', stored)),
  );
  const refused = outcomes.filter((o) => o.status === 'rejected');
  expect(refused).toHaveLength(8);
  for (const o of refused) expect(o.reason).toMatchObject({ status: 503 });
  expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value)).toHaveLength(102);
});

test('registrations get one derivation at a time and a short queue; sign-ins keep the other', async () => {
  const cheap = { log2N: 14, r: 8, p: 1 };
  const stored = await hashPassword('pw', cheap);
  const registering = Array.from({ length: 20 }, () => hashPassword('pw', cheap, 'registration'));
  const signingIn = Array.from({ length: 20 }, () => verifyPassword('pw', stored));
  const registered = await Promise.allSettled(registering);
  const refused = registered.filter((o) => o.status === 'rejected');
  expect(refused).toHaveLength(15);
  for (const o of refused) expect(o.reason).toMatchObject({ status: 503 });
  expect(await Promise.all(signingIn)).toEqual(Array.from({ length: 20 }, () => true));
});
