import { generateKeyPairSync } from 'node:crypto';
import type { KeyPair } from '../marketplace/credentials.js';

/** A fresh RSA key pair for RS256 tokens, PEM-encoded (PKCS#8 private, SPKI public). */
export function generateRsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
