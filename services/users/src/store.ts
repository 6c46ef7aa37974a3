// The users service's collections, their documents and indexes. It also reads two
// shared collections (companies, company_members) to put a seller's company in a token.
import {
  SHARED_COLLECTIONS,
  type CollectionIndexes,
  type CompanyMemberRecord,
  type CompanyRecord,
  type Role,
  type WithOutbox,
} from '@gorten/kit';
import type { Collection, Db } from 'mongodb';

export type UserStatus = 'active' | 'disabled';

export interface UserDoc extends WithOutbox {
  _id: string;
  /** Lower-cased; unique in the tenant. */
  email: string;
  name: string;
  passwordHash: string;
  roles: Role[];
  status: UserStatus;
  /** Bumped to end every session at once; refresh tokens of an older one are refused. */
  sessionGeneration?: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One refresh token; `_id` is the SHA-256 of the token, never the token itself. */
export interface RefreshTokenDoc {
  _id: string;
  /** Every token rotated from one login; reuse of a used one revokes them all. */
  familyId: string;
  userId: string;
  /** The user's sessionGeneration when the family signed in (absent: 0). */
  sessionGeneration?: number;
  company?: string;
  issuedAt: Date;
  expiresAt: Date;
  usedAt?: Date;
  /** Marked when revoked; exchanges also check revoked_families and the generation. */
  revokedAt?: Date;
}

/** A family signed out or caught reusing a token; `_id` is the familyId. */
export interface RevokedFamilyDoc {
  _id: string;
  revokedAt: Date;
  /** After the last token the family can have; swept then. */
  expiresAt: Date;
}

/** Password attempts per email or address within a window (throttle.ts). */
export interface LoginFailuresDoc {
  _id: string;
  /** Failed attempts and those still being checked; a success gives its count back. */
  failures: number;
  windowEndsAt: Date;
}

/** Client assertions already exchanged (`<company>:<jti>`): each is good once. */
export interface UsedAssertionDoc {
  _id: string;
  /** The assertion's exp plus the clock tolerance: the last moment it would verify. */
  expiresAt: Date;
}

export interface UsersStore {
  users: Collection<UserDoc>;
  refreshTokens: Collection<RefreshTokenDoc>;
  revokedFamilies: Collection<RevokedFamilyDoc>;
  loginFailures: Collection<LoginFailuresDoc>;
  usedAssertions: Collection<UsedAssertionDoc>;
  companies: Collection<CompanyRecord>;
  members: Collection<CompanyMemberRecord>;
}

export function usersStore(db: Db): UsersStore {
  return {
    users: db.collection('users'),
    refreshTokens: db.collection('refresh_tokens'),
    revokedFamilies: db.collection('revoked_families'),
    loginFailures: db.collection('login_failures'),
    usedAssertions: db.collection('used_assertions'),
    companies: db.collection(SHARED_COLLECTIONS.companies),
    members: db.collection(SHARED_COLLECTIONS.companyMembers),
  };
}

export const USERS_INDEXES: CollectionIndexes[] = [
  { collection: 'users', indexes: [{ key: { email: 1 }, name: 'email_unique', unique: true }] },
  {
    collection: 'refresh_tokens',
    indexes: [
      { key: { familyId: 1 }, name: 'family' },
      { key: { userId: 1 }, name: 'user' },
      { key: { expiresAt: 1 }, name: 'expiry' },
    ],
  },
  { collection: 'revoked_families', indexes: [{ key: { expiresAt: 1 }, name: 'expiry' }] },
  { collection: 'login_failures', indexes: [{ key: { windowEndsAt: 1 }, name: 'window' }] },
  { collection: 'used_assertions', indexes: [{ key: { expiresAt: 1 }, name: 'expiry' }] },
];

/** Expired records go (FerretDB has no TTL indexes, so a periodic task does it). */
export async function sweepExpired(store: UsersStore, now: Date): Promise<void> {
  await store.refreshTokens.deleteMany({ expiresAt: { $lt: now } });
  await store.revokedFamilies.deleteMany({ expiresAt: { $lt: now } });
  await store.loginFailures.deleteMany({ windowEndsAt: { $lt: now } });
  await store.usedAssertions.deleteMany({ expiresAt: { $lt: now } });
}
