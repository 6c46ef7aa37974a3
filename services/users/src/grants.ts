// The token endpoint's three grants.
// - password: email + password → access token and a refresh token starting a family.
// - refresh_token: a refresh token is good once; it is exchanged for a new pair in the
//   same family. Presenting one already used means it leaked (or the client misbehaves):
//   the whole family is revoked, so the thief's copy dies with the victim's.
//   Revocation is a property of the family (a revoked_families record) and of the user
//   (sessionGeneration, bumped to end every session), checked at every exchange: an
//   exchange in flight stores its new token after a revocation has marked the tokens it
//   found, and that token must die too.
// - client_credentials: a company's integration proves itself with a JWT signed by its
//   credential's private key (RFC 7523); the answer is a seller token for that company.
// Every failure of the caller is an OAuth error code in a problem document, and says
// no more than needed (no hint whether an email exists).
import { randomUUID } from 'node:crypto';
import { isDuplicateKey, Problem, type Role } from '@gorten/kit';
import jwt from 'jsonwebtoken';
import { needsRehash, hashPassword, verifyPassword } from './passwords.js';
import type { TokenRequest } from './schemas.js';
import type { UserDoc } from './store.js';
import type { UsersDeps } from './deps.js';
import { newRefreshToken, refreshTokenId, signAccessToken, type AccessClaims } from './tokens.js';

export interface TokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
}

type OAuthError = 'invalid_grant' | 'invalid_client' | 'invalid_request';

function oauthError(status: 400 | 401 | 403, error: OAuthError, detail: string): Problem {
  return new Problem(
    status,
    status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request',
    detail,
    { error },
  );
}

const WRONG_CREDENTIALS = 'The email or password is wrong.';

// Verifying against this when the email is unknown makes both answers take as long.
let dummyHash: Promise<string> | undefined;

/** The company a seller's token names: asked for, or their only one; active ones only. */
async function companyFor(
  deps: UsersDeps,
  user: UserDoc,
  requested: string | undefined,
): Promise<string | undefined> {
  if (!user.roles.includes('seller')) {
    if (requested) throw oauthError(400, 'invalid_request', 'Only sellers act for a company.');
    return undefined;
  }
  const memberships = await deps.store.members.find({ userId: user._id }).toArray();
  const active = await deps.store.companies
    .find({ _id: { $in: memberships.map((m) => m.companyId) }, status: 'active' })
    .project<{ _id: string }>({ _id: 1 })
    .toArray();
  const ids = active.map((c) => c._id).sort();
  if (requested) {
    if (!ids.includes(requested))
      throw oauthError(403, 'invalid_grant', 'You do not act for this company.');
    return requested;
  }
  if (ids.length > 1) {
    throw new Problem(400, 'Bad Request', 'You act for several companies; name one in `company`.', {
      error: 'invalid_request',
      companies: ids,
    });
  }
  return ids[0];
}

async function issue(
  deps: UsersDeps,
  claims: AccessClaims,
  family?: { familyId: string; userId: string; sessionGeneration: number; company?: string },
): Promise<TokenAnswer> {
  const answer: TokenAnswer = {
    access_token: signAccessToken(claims, deps.signer),
    token_type: 'Bearer',
    expires_in: deps.signer.ttlSeconds,
  };
  if (family) {
    const refreshToken = newRefreshToken();
    const now = deps.now();
    await deps.store.refreshTokens.insertOne({
      _id: refreshTokenId(refreshToken),
      familyId: family.familyId,
      userId: family.userId,
      sessionGeneration: family.sessionGeneration,
      ...(family.company ? { company: family.company } : {}),
      issuedAt: now,
      expiresAt: new Date(now.getTime() + deps.env.REFRESH_TOKEN_TTL_SECONDS * 1000),
    });
    answer.refresh_token = refreshToken;
  }
  return answer;
}

async function passwordGrant(
  deps: UsersDeps,
  request: Extract<TokenRequest, { grant_type: 'password' }>,
  address: string,
): Promise<TokenAnswer> {
  const now = deps.now();
  await deps.throttle.admitAttempt(request.username, address, now);
  const user = await deps.store.users.findOne({ email: request.username });
  dummyHash ??= hashPassword(randomUUID(), deps.cost);
  const matches = await verifyPassword(request.password, user?.passwordHash ?? (await dummyHash));
  if (!user || !matches || user.status !== 'active')
    throw oauthError(400, 'invalid_grant', WRONG_CREDENTIALS);
  await deps.throttle.recordSuccess(request.username, address, now);
  if (needsRehash(user.passwordHash, deps.cost)) {
    await deps.store.users.updateOne(
      { _id: user._id, passwordHash: user.passwordHash },
      { $set: { passwordHash: await hashPassword(request.password, deps.cost) } },
    );
  }
  const company = await companyFor(deps, user, request.company);
  return issue(
    deps,
    { sub: user._id, roles: user.roles, company },
    {
      familyId: randomUUID(),
      userId: user._id,
      sessionGeneration: user.sessionGeneration ?? 0,
      company,
    },
  );
}

async function refreshGrant(deps: UsersDeps, refreshToken: string): Promise<TokenAnswer> {
  const now = deps.now();
  const id = refreshTokenId(refreshToken);
  // Atomically marks the token used: of two concurrent exchanges exactly one wins.
  const token = await deps.store.refreshTokens.findOneAndUpdate(
    { _id: id, usedAt: { $exists: false }, revokedAt: { $exists: false }, expiresAt: { $gt: now } },
    { $set: { usedAt: now } },
  );
  if (!token) {
    const known = await deps.store.refreshTokens.findOne({ _id: id });
    if (known?.usedAt && !known.revokedAt) {
      await revokeFamily(deps, known.familyId);
      throw oauthError(400, 'invalid_grant', 'The refresh token was already used; sign in again.');
    }
    throw oauthError(400, 'invalid_grant', 'The refresh token is not valid; sign in again.');
  }
  const user = await deps.store.users.findOne({ _id: token.userId, status: 'active' });
  if (!user) throw oauthError(400, 'invalid_grant', 'The account is not active.');
  const generation = token.sessionGeneration ?? 0;
  if (
    generation !== (user.sessionGeneration ?? 0) ||
    (await deps.store.revokedFamilies.findOne({ _id: token.familyId }))
  )
    throw oauthError(400, 'invalid_grant', 'The refresh token was revoked; sign in again.');
  // Roles and membership are read again: a change by an admin applies from here on.
  const company = token.company
    ? await companyFor(deps, user, token.company).catch(() => undefined)
    : undefined;
  return issue(
    deps,
    { sub: user._id, roles: user.roles, company },
    // The generation is the family's, not the user's now: a bump meanwhile ends it too.
    { familyId: token.familyId, userId: user._id, sessionGeneration: generation, company },
  );
}

const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** How far past its exp an assertion still verifies (clocks of companies differ). */
const ASSERTION_CLOCK_TOLERANCE_SECONDS = 5;

async function clientCredentialsGrant(deps: UsersDeps, assertion: string): Promise<TokenAnswer> {
  const unverified = jwt.decode(assertion, { json: true });
  const companyId = typeof unverified?.iss === 'string' ? unverified.iss : undefined;
  const company = companyId
    ? await deps.store.companies.findOne({ _id: companyId, status: 'active' })
    : null;
  const publicKey = company?.credential?.publicKey;
  if (!companyId || !publicKey)
    throw oauthError(401, 'invalid_client', 'The client assertion names no active company.');
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(assertion, publicKey, {
      algorithms: ['RS256'],
      issuer: companyId,
      subject: companyId,
      audience: deps.env.JWT_AUDIENCE,
      clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
    }) as jwt.JwtPayload;
  } catch (err) {
    throw oauthError(
      401,
      'invalid_client',
      `The client assertion is not valid: ${(err as Error).message}.`,
    );
  }
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  if (
    typeof claims.exp !== 'number' ||
    claims.exp - nowSeconds > ASSERTION_MAX_LIFETIME_SECONDS ||
    typeof claims.jti !== 'string' ||
    claims.jti.length === 0 ||
    claims.jti.length > 128
  ) {
    throw oauthError(
      401,
      'invalid_client',
      `The client assertion needs exp at most ${ASSERTION_MAX_LIFETIME_SECONDS} s ahead and a jti.`,
    );
  }
  try {
    // Remembered as long as the assertion would verify: swept at exp, it could be replayed.
    await deps.store.usedAssertions.insertOne({
      _id: `${companyId}:${claims.jti}`,
      expiresAt: new Date((claims.exp + ASSERTION_CLOCK_TOLERANCE_SECONDS) * 1000),
    });
  } catch (err) {
    if (isDuplicateKey(err))
      throw oauthError(401, 'invalid_client', 'The client assertion was already used.');
    throw err;
  }
  const roles: Role[] = ['seller'];
  return issue(deps, { sub: companyId, roles, company: companyId });
}

export function grantToken(
  deps: UsersDeps,
  request: TokenRequest,
  address: string,
): Promise<TokenAnswer> {
  switch (request.grant_type) {
    case 'password':
      return passwordGrant(deps, request, address);
    case 'refresh_token':
      return refreshGrant(deps, request.refresh_token);
    case 'client_credentials':
      return clientCredentialsGrant(deps, request.client_assertion);
  }
}

// Kept past the last token the family can have (one stored by an exchange in flight,
// good for the refresh lifetime), with room for clocks that differ between replicas.
const REVOCATION_MARGIN_MS = 3_600_000;

/** Ends a family: its record refuses every later exchange; its stored tokens are marked. */
async function revokeFamily(deps: UsersDeps, familyId: string): Promise<void> {
  const now = deps.now();
  const keepMs = deps.env.REFRESH_TOKEN_TTL_SECONDS * 1000 + REVOCATION_MARGIN_MS;
  await deps.store.revokedFamilies.updateOne(
    { _id: familyId },
    { $setOnInsert: { revokedAt: now, expiresAt: new Date(now.getTime() + keepMs) } },
    { upsert: true },
  );
  await deps.store.refreshTokens.updateMany(
    { familyId, revokedAt: { $exists: false } },
    { $set: { revokedAt: now } },
  );
}

/** Logout (RFC 7009): the token's family is revoked; unknown tokens are not an error. */
export async function revokeRefreshToken(deps: UsersDeps, token: string): Promise<void> {
  const known = await deps.store.refreshTokens.findOne({ _id: refreshTokenId(token) });
  if (!known) return;
  await revokeFamily(deps, known.familyId);
}
