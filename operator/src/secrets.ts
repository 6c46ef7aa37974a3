// What the operator keeps in Secrets and how: `data` is base64 (one place writes it, one
// reads it), passwords and RS256 key pairs are generated here once and then read back
// from their Secrets, so a restart never rotates them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KubeObject } from './clients/kube.js';

export interface KeyPair {
  privatePem: string;
  publicPem: string;
}

export function encodeSecretData(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
}

/** The decoded value of `key` in a Secret, or undefined when the Secret or key is absent. */
export function secretValue(secret: KubeObject | undefined, key: string): string | undefined {
  const encoded = (secret?.data as Record<string, string> | undefined)?.[key];
  return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
}

/** A password made of URL- and shell-safe characters. */
export function generatePassword(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** A fresh RSA key pair for RS256 tokens, PEM-encoded (PKCS#8 private, SPKI public). */
export function generateRsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** How a key pair sits in a Secret (the tenant's signing key and each company's key). */
export function keyPairData(keys: KeyPair): Record<string, string> {
  return { 'private.pem': keys.privatePem, 'public.pem': keys.publicPem };
}

/** The key pair kept in an existing Secret, if it holds both halves. */
export function keyPairOf(existing: KubeObject | undefined): KeyPair | undefined {
  const [privatePem, publicPem] = [
    secretValue(existing, 'private.pem'),
    secretValue(existing, 'public.pem'),
  ];
  return privatePem && publicPem ? { privatePem, publicPem } : undefined;
}
