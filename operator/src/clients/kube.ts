// The operator's only door to the Kubernetes API: raw JSON over HTTPS with the
// kubeconfig's credentials. Raw JSON on purpose: client-node's model classes rename
// fields (`from` → `_from`), which would corrupt server-side apply patches.
import { Agent, request, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { resourcePath, type ObjectRef } from './resources.js';
import { containsDesired } from '../runtime/equality.js';

export const FIELD_MANAGER = 'gorten-operator';

export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  [field: string]: unknown;
}

export interface KubeList<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

/** Counts of requests by verb, for metrics, tests and the benchmark. */
export interface RequestCounts {
  reads: number;
  writes: number;
}

export class Kube {
  readonly server: string;
  readonly counts: RequestCounts = { reads: 0, writes: 0 };
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });

  constructor(
    private readonly kc: KubeConfig,
    private readonly onRequest?: (verb: 'read' | 'write') => void,
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
  }

  /**
   * One API call. 429 (the apiserver's "try again", e.g. while a new CRD's storage
   * initializes) is retried after Retry-After, up to 5 times, as client-go does.
   * `signal` aborts it, retries and waits included (a lease renewal's deadline).
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    signal?: AbortSignal,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.send(method, path, body, contentType, signal);
      const ok = answer.status >= 200 && answer.status < 300;
      // Errors may be plain text ("404 page not found" for a group the apiserver does not serve).
      const parsed =
        answer.text && (ok || answer.text.startsWith('{'))
          ? (JSON.parse(answer.text) as unknown)
          : undefined;
      if (ok) return parsed as T;
      if (answer.status === 429 && attempt < 5) {
        await sleep(Math.min(answer.retryAfterSeconds ?? 1, 10) * 1000, undefined, { signal });
        continue;
      }
      const status = parsed as { reason?: string; message?: string } | undefined;
      throw new KubeError(
        answer.status,
        status?.reason ?? 'Unknown',
        `${method} ${path}: ${answer.status} ${status?.message ?? answer.text.slice(0, 300)}`,
      );
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string; retryAfterSeconds?: number }> {
    const opts: RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const url = new URL(this.server + path);
    const secure = url.protocol === 'https:';
    if (secure) opts.agent = this.agent;
    opts.headers = {
      ...(opts.headers as Record<string, string>),
      accept: 'application/json',
      'content-type': contentType,
    };
    const verb = method === 'GET' ? 'read' : 'write';
    this.counts[verb === 'read' ? 'reads' : 'writes']++;
    this.onRequest?.(verb);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const options = { ...opts, timeout: 30_000, ...(signal ? { signal } : {}) };
      const req = (secure ? request : httpRequest)(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
          });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => {
        req.destroy(new Error(`${method} ${path}: no answer within 30 s`));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async get<T extends KubeObject>(
    ref: ObjectRef & { name: string },
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', resourcePath(ref), undefined, undefined, signal);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(ref: ObjectRef, query = ''): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', `${resourcePath(ref)}${query ? `?${query}` : ''}`);
  }

  /** Server-side apply (as the operator, unless told), taking over conflicting fields. */
  async apply<T extends KubeObject>(desired: KubeObject, fieldManager = FIELD_MANAGER): Promise<T> {
    const path = `${resourcePath(refOf(desired))}?fieldManager=${fieldManager}&force=true`;
    return this.request<T>('PATCH', path, desired, 'application/apply-patch+yaml');
  }

  /**
   * Applies `desired` unless the live object already contains it. Returns the live
   * object and whether a write happened.
   */
  async ensure<T extends KubeObject>(
    desired: KubeObject,
    live?: T,
  ): Promise<{ object: T; written: boolean }> {
    const current = live ?? (await this.get<T>(refOf(desired)));
    if (current && containsDesired(current, desired)) return { object: current, written: false };
    return { object: await this.apply<T>(desired), written: true };
  }

  async mergePatch<T extends KubeObject>(
    ref: ObjectRef & { name: string },
    patch: unknown,
    subresource = '',
  ): Promise<T> {
    return this.request<T>(
      'PATCH',
      resourcePath(ref) + subresource,
      patch,
      'application/merge-patch+json',
    );
  }

  async create<T extends KubeObject>(object: KubeObject, signal?: AbortSignal): Promise<T> {
    const { name: _name, ...collection } = refOf(object);
    return this.request<T>('POST', resourcePath(collection), object, undefined, signal);
  }

  async delete(ref: ObjectRef & { name: string }): Promise<boolean> {
    try {
      await this.request('DELETE', resourcePath(ref));
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return false;
      throw err;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

export function refOf(object: KubeObject): ObjectRef & { name: string } {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.metadata.namespace,
  };
}
