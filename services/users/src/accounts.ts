// Accounts: self-registration (always a buyer), profiles, password changes, and what
// tenant admins do with users. Disabling a user or changing their roles revokes their
// refresh tokens, so the change reaches them within one access-token lifetime. A
// password change checks the current password under the login throttle of the email.
// Registration answers alike whether the email was free or taken, so it does not tell
// who has an account here (login does not either).
import {
  afterCursor,
  conflict,
  isDuplicateKey,
  newId,
  notFound,
  outboxEntry,
  page,
  Problem,
  unprocessable,
  type Principal,
  type Role,
} from '@gorten/kit';
import type { Filter } from 'mongodb';
import { hashPassword, verifyPassword, type DerivationLane } from './passwords.js';
import type { User, UserRegistered } from './schemas.js';
import type { UserDoc, UserStatus } from './store.js';
import type { UsersDeps } from './deps.js';

export function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    email: doc.email,
    name: doc.name,
    roles: doc.roles,
    status: doc.status,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

export async function createUser(
  deps: UsersDeps,
  input: { email: string; password: string; name: string; roles: Role[] },
  lane: DerivationLane = 'sign-in',
): Promise<User> {
  const now = deps.now();
  const id = newId('usr');
  const registered: UserRegistered = { userId: id, email: input.email, name: input.name };
  const doc: UserDoc = {
    _id: id,
    email: input.email,
    name: input.name,
    passwordHash: await hashPassword(input.password, deps.cost, lane),
    roles: [...new Set(input.roles)],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    // The welcome email goes out through the notification exchange, with the account.
    outbox: [
      outboxEntry('notification_exchange', 'user.registered', 'user.registered', registered),
    ],
  };
  try {
    await deps.store.users.insertOne(doc);
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict('A user with this email already exists.');
    throw err;
  }
  return toUser(doc);
}

/** The answer to every registration, made or not: the same body for a taken email. */
export const REGISTRATION_ANSWER = {
  detail:
    'If this email was not registered yet, its buyer account is ready: sign in with it. If it was, nothing changed.',
};

/**
 * A new buyer, unless the email is taken: then nothing happens, and the caller is not
 * told (the password is hashed either way, so both take as long).
 */
export async function register(
  deps: UsersDeps,
  input: { email: string; password: string; name: string },
): Promise<void> {
  try {
    await createUser(deps, { ...input, roles: ['buyer'] }, 'registration');
  } catch (err) {
    if (!(err instanceof Problem && err.status === 409)) throw err;
  }
}

export async function getUser(deps: UsersDeps, id: string): Promise<User> {
  const doc = await deps.store.users.findOne({ _id: id });
  if (!doc) throw notFound('No such user.');
  return toUser(doc);
}

export async function listUsers(
  deps: UsersDeps,
  query: { limit: number; cursor?: string; role?: Role; status?: UserStatus; email?: string },
): Promise<{ items: User[]; nextCursor: string | null }> {
  const filter: Filter<UserDoc> = {
    ...(query.role ? { roles: query.role } : {}),
    ...(query.status ? { status: query.status } : {}),
    ...(query.email ? { email: query.email.trim().toLowerCase() } : {}),
    ...afterCursor('_id', 1, query.cursor),
  };
  const docs = await deps.store.users
    .find(filter)
    .sort({ _id: 1 })
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => d._id);
  return { items: result.items.map(toUser), nextCursor: result.nextCursor };
}

/**
 * Ends every session of the user: the generation bump refuses every refresh token of
 * theirs from now on, including one an exchange in flight stores later; the tokens
 * stored now are marked as well.
 */
export async function revokeAllRefreshTokens(deps: UsersDeps, userId: string): Promise<void> {
  await deps.store.users.updateOne({ _id: userId }, { $inc: { sessionGeneration: 1 } });
  await deps.store.refreshTokens.updateMany(
    { userId, revokedAt: { $exists: false } },
    { $set: { revokedAt: deps.now() } },
  );
}

export async function updateUser(
  deps: UsersDeps,
  admin: Principal,
  id: string,
  change: { name?: string; roles?: Role[]; status?: UserStatus },
): Promise<User> {
  // An admin who could remove their own admin role or disable themselves could leave
  // the tenant without anyone to manage it.
  if (
    id === admin.userId &&
    ((change.roles && !change.roles.includes('admin')) || change.status === 'disabled')
  )
    throw conflict('You cannot remove your own admin role or disable yourself.');
  const set: Partial<UserDoc> = { updatedAt: deps.now() };
  if (change.name !== undefined) set.name = change.name;
  if (change.roles !== undefined) set.roles = [...new Set(change.roles)];
  if (change.status !== undefined) set.status = change.status;
  const updated = await deps.store.users.findOneAndUpdate(
    { _id: id },
    { $set: set },
    { returnDocument: 'after' },
  );
  if (!updated) throw notFound('No such user.');
  if (change.roles !== undefined || change.status === 'disabled')
    await revokeAllRefreshTokens(deps, id);
  return toUser(updated);
}

export async function changePassword(
  deps: UsersDeps,
  userId: string,
  currentPassword: string,
  newPassword: string,
): Promise<void> {
  const doc = await deps.store.users.findOne({ _id: userId, status: 'active' });
  if (!doc) throw notFound('No such user.');
  // A stolen access token must not make this an unthrottled way to guess the password.
  const now = deps.now();
  await deps.throttle.admitAttempt(doc.email, undefined, now);
  if (!(await verifyPassword(currentPassword, doc.passwordHash)))
    throw unprocessable('The current password is wrong.');
  await deps.throttle.recordSuccess(doc.email, undefined, now);
  const passwordHash = await hashPassword(newPassword, deps.cost);
  // Conditional on the hash just checked: a concurrent change is not silently overwritten.
  const changed = await deps.store.users.updateOne(
    { _id: userId, passwordHash: doc.passwordHash },
    { $set: { passwordHash, updatedAt: deps.now() } },
  );
  if (changed.matchedCount === 0) throw conflict('The password was changed meanwhile.');
  await revokeAllRefreshTokens(deps, userId);
}

/** Creates the configured first admin once; a later start with it present does nothing. */
export async function bootstrapAdmin(
  deps: UsersDeps,
  email: string | undefined,
  password: string | undefined,
): Promise<void> {
  if (!email || !password) return;
  const normalized = email.trim().toLowerCase();
  if (await deps.store.users.findOne({ email: normalized })) return;
  try {
    await createUser(deps, {
      email: normalized,
      password,
      name: 'Administrator',
      roles: ['admin'],
    });
  } catch (err) {
    // Two replicas starting together: the other one created it.
    if (!(err instanceof Problem && err.status === 409)) throw err;
  }
}
