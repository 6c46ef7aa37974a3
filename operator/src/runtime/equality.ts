// "Does the live object already say everything we want?" — the test that lets a
// converged tenant reconcile with zero writes. Fields the server adds (defaults,
// status, managedFields) are ignored; fields we set must be equal.

export function containsDesired(live: unknown, desired: unknown): boolean {
  if (desired === null || typeof desired !== 'object') return live === desired;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((item, i) => containsDesired(live[i], item))
    );
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
  const liveRecord = live as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([key, value]) =>
    value === undefined ? true : containsDesired(liveRecord[key], value),
  );
}

/** Structural equality that ignores key order (the apiserver re-sorts object keys). */
export function deepEqual(a: unknown, b: unknown): boolean {
  return containsDesired(a, b) && containsDesired(b, a);
}
