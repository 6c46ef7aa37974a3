// Minimal HTTP(S) JSON requests for probes and set-up calls: the test environment
// itself must not depend on the libraries whose servers it is there to prove.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA for https; `insecure` accepts any certificate (health probes on loopback). */
  ca?: string;
  insecure?: boolean;
  timeoutMs?: number;
}

export function http(url: string, opts: HttpOptions = {}): Promise<HttpAnswer> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const headers: Record<string, string> = { ...opts.headers };
  if (target.username) {
    const auth = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const options: RequestOptions = {
    method: opts.method ?? 'GET',
    headers,
    timeout: opts.timeoutMs ?? 5_000,
    ...(secure ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(target, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => {
      req.destroy(new Error(`timeout after ${options.timeout} ms`));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The body of a 2xx answer; any other status throws, so `eventually` reports why it kept waiting. */
export async function okBody(url: string, opts: HttpOptions = {}): Promise<string | undefined> {
  const answer = await http(url, opts);
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
}
