// Secret `data` is base64: one place that writes it and one that reads it.
import type { KubeObject } from './clients/kube.js';

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
