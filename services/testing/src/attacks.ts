// Tokens a service must refuse, each for a different reason. Every service's
// authorization tests run through all of them.
import { createHmac } from 'node:crypto';
import { rsaKeyPair, type TestTenant, type TokenClaims } from './tenant.js';
import jwt from 'jsonwebtoken';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface ForgedToken {
  why: string;
  token: string;
}

export function forgedTokens(tenant: TestTenant, claims: TokenClaims): ForgedToken[] {
  const now = Math.floor(Date.now() / 1000);
  const payload = { ...claims, iss: tenant.issuer, aud: tenant.name, iat: now, exp: now + 300 };
  const unsigned = (alg: string) => `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  const other = rsaKeyPair();
  return [
    { why: 'expired', token: tenant.token(claims, { expiresIn: -60 }) },
    { why: 'alg none', token: `${unsigned('none')}.` },
    {
      // The classic confusion: HMAC keyed with the (public) RSA key.
      why: 'HS256 signed with the public key',
      token: `${unsigned('HS256')}.${createHmac('sha256', tenant.keys.publicKey).update(unsigned('HS256')).digest('base64url')}`,
    },
    { why: 'wrong audience', token: tenant.token(claims, { audience: 'another-marketplace' }) },
    { why: 'wrong issuer', token: tenant.token(claims, { issuer: 'gorten/mp-another' }) },
    {
      why: 'signed with a key that is not the tenant’s',
      token: jwt.sign(claims, other.privateKey, {
        algorithm: 'RS256',
        issuer: tenant.issuer,
        audience: tenant.name,
        expiresIn: 300,
      }),
    },
    {
      why: "another tenant's token",
      token: jwt.sign(claims, other.privateKey, {
        algorithm: 'RS256',
        issuer: 'gorten/mp-another',
        audience: 'another',
        expiresIn: 300,
      }),
    },
    { why: 'not a JWT', token: 'not-a-token' },
  ];
}
