// Secrets out of log lines: passwords, tokens, keys and credential headers are replaced by
// a censor before a line is written. pino's own `redact` does this too, but a wildcard path
// (`*.password`) makes it clone and walk every field of every line; here a line's fields
// cost a Set lookup each, and only an object that holds a secret is copied (never changed).

export const CENSOR = '[redacted]';

/** Fields that are secrets wherever a line has them at its top level. */
const TOP_LEVEL = new Set(['password', 'token', 'refreshToken']);

/** Fields that are secrets one level down, in any object a line holds. */
const NESTED = ['password', 'token', 'accessToken', 'refreshToken', 'secret', 'privateKey'];

/** Credential headers of a logged request (`req`) or response (`res`). */
const HEADERS = new Map<string, readonly string[]>([
  ['req', ['authorization', 'cookie']],
  ['res', ['set-cookie']],
]);

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;

/**
 * `value` with the `keys` it has of its own censored: a copy with the same prototype and
 * properties (an Error stays an Error, with its message and stack), or `value` itself
 * when it has none of them.
 */
function censored<T extends Fields>(value: T, keys: readonly string[]): T {
  let copy: T | undefined;
  for (const key of keys) {
    if (!Object.hasOwn(value, key)) continue;
    copy ??= Object.create(
      Object.getPrototypeOf(value) as object | null,
      Object.getOwnPropertyDescriptors(value),
    ) as T;
    Object.defineProperty(copy, key, {
      value: CENSOR,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy ?? value;
}

/** A logged request or response with its credential headers censored. */
function withoutCredentialHeaders(message: Fields, headers: readonly string[]): Fields {
  const sent = message.headers;
  if (!isObject(sent)) return message;
  const safe = censored(sent, headers);
  return safe === sent ? message : { ...message, headers: safe };
}

/** The fields of a log line without secrets; `line` itself is left as it is. */
export function redactSecrets(line: Fields): Fields {
  let out: Fields | undefined;
  for (const key in line) {
    if (!Object.hasOwn(line, key)) continue;
    const value = line[key];
    let safe: unknown = value;
    if (TOP_LEVEL.has(key)) safe = CENSOR;
    else if (isObject(value)) {
      safe = censored(value, NESTED);
      const headers = HEADERS.get(key);
      if (headers && isObject(safe)) safe = withoutCredentialHeaders(safe, headers);
    }
    if (safe !== value) {
      out ??= { ...line };
      out[key] = safe;
    }
  }
  return out ?? line;
}
