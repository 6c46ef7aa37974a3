// A small HTTP client for service tests: JSON in, JSON (or problem+json) out.
export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded): malformed and oversized bodies. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export type Call = <T = Record<string, unknown>>(
  method: string,
  path: string,
  opts?: CallOptions,
) => Promise<Answer<T>>;

export function client(baseUrl: string): Call {
  return async <T>(method: string, path: string, opts: CallOptions = {}): Promise<Answer<T>> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.rawBody;
    if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text ? JSON.parse(text) : undefined) as T,
    };
  };
}
