// Token material. Access tokens: RS256 JWTs signed with the tenant's key, short-lived,
// with the claims the kit's `authenticate` reads (sub, roles, company). Refresh tokens:
// 256 random bits, opaque to the client, stored only as their SHA-256.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Role } from '@gorten/kit';
import jwt from 'jsonwebtoken';

export interface AccessClaims {
  sub: string;
  roles: Role[];
  company?: string;
}

export interface Signer {
  privateKey: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export function signAccessToken(claims: AccessClaims, signer: Signer): string {
  return jwt.sign(
    { roles: claims.roles, ...(claims.company ? { company: claims.company } : {}) },
    signer.privateKey,
    {
      algorithm: 'RS256',
      subject: claims.sub,
      issuer: signer.issuer,
      audience: signer.audience,
      expiresIn: signer.ttlSeconds,
      jwtid: randomUUID(),
    },
  );
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function refreshTokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
