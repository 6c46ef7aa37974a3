// Who is calling: koa-jwt verifies the access token — RS256 only (no `none`, no HS256
// signed with the public key), this tenant's issuer and audience, not expired — and the
// claims become a typed Principal. Guards then authorize by role and by ownership.
import type { Middleware } from 'koa';
import jwt from 'koa-jwt';
import { z } from 'zod';
import { forbidden, unauthorized } from './problem.js';

export const ROLES = ['buyer', 'seller', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  roles: Role[];
  /** The company a seller acts for. */
  companyId?: string;
}

const claims = z.object({
  sub: z.string().min(1).max(64),
  roles: z.array(z.enum(ROLES)).min(1),
  company: z.string().min(1).max(64).optional(),
});

export interface AuthOptions {
  publicKey: string;
  issuer: string;
  audience: string;
  /** Anonymous callers pass (public reads); a token, if sent, must still be valid. */
  optional?: boolean;
}

export interface AuthState {
  principal?: Principal;
}

export function authenticate(opts: AuthOptions): Middleware<AuthState> {
  const verify = jwt({
    secret: opts.publicKey,
    algorithms: ['RS256'],
    issuer: opts.issuer,
    audience: opts.audience,
    key: 'token',
  });
  return async (ctx, next) => {
    if (opts.optional && !ctx.get('authorization')) {
      await next();
      return;
    }
    await verify(ctx, async () => {
      const parsed = claims.safeParse((ctx.state as { token?: unknown }).token);
      if (!parsed.success) throw unauthorized('The access token lacks valid claims.');
      ctx.state.principal = {
        userId: parsed.data.sub,
        roles: parsed.data.roles,
        companyId: parsed.data.company,
      };
      await next();
    });
  };
}

export function principalOf(state: AuthState): Principal {
  if (!state.principal) throw unauthorized();
  return state.principal;
}

export function requireRole(...roles: Role[]): Middleware<AuthState> {
  return async (ctx, next) => {
    const principal = principalOf(ctx.state);
    if (!roles.some((r) => principal.roles.includes(r)))
      throw forbidden(`This needs one of the roles: ${roles.join(', ')}.`);
    await next();
  };
}

/** Object-level authorization: the owner, or an admin. */
export function assertOwnerOrAdmin(principal: Principal, ownerId: string): void {
  if (principal.roles.includes('admin') || principal.userId === ownerId) return;
  throw forbidden('This belongs to someone else.');
}

export function isAdmin(principal: Principal | undefined): boolean {
  return principal?.roles.includes('admin') ?? false;
}

/** A seller acts only for the company in their token. */
export function isSellerOf(principal: Principal | undefined, companyId: string): boolean {
  return (principal?.roles.includes('seller') ?? false) && principal?.companyId === companyId;
}

/** A seller may act only for the company in the token (admins for any). */
export function assertActsForCompany(principal: Principal, companyId: string): void {
  if (isAdmin(principal) || isSellerOf(principal, companyId)) return;
  throw forbidden('You do not act for this company.');
}
