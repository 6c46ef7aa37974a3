// RabbitMQ administration over the management HTTP API: vhosts, users, permissions and
// the topology of exchanges, queues and bindings. Reads first and writes only what is
// missing or different, so a converged vhost costs reads alone.
import { rabbitHashMatches } from './password-check.js';

export interface Exchange {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}
export interface Queue {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
}
export interface Binding {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Record<string, unknown>;
}
export interface Topology {
  exchanges: Exchange[];
  queues: Queue[];
  bindings: Binding[];
}
export interface Permissions {
  configure: string;
  write: string;
  read: string;
}

export class BrokerError extends Error {
  override name = 'BrokerError';
  constructor(
    /** CamelCase reason for a condition: BrokerUnavailable, BrokerRefused, TopologyConflict. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type TopologyChange = `${'exchange' | 'queue' | 'binding'} ${string}`;

const enc = encodeURIComponent;

function sameArguments(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

export class RabbitAdmin {
  private readonly authorization: string;
  private readonly base: string;
  /** Calls that changed something, for tests and the benchmark. */
  writes = 0;

  constructor(
    managementUrl: string,
    readonly adminUser: string,
    adminPassword: string,
    private readonly onWrite: () => void = () => undefined,
  ) {
    this.base = managementUrl.replace(/\/$/, '');
    this.authorization = `Basic ${Buffer.from(`${adminUser}:${adminPassword}`).toString('base64')}`;
  }

  /** One management API call; `undefined` for a 404 when `allow404`. */
  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    allow404 = false,
  ): Promise<T | undefined> {
    if (method !== 'GET') {
      this.writes++;
      this.onWrite();
    }
    let res: Response;
    try {
      res = await fetch(`${this.base}/api${path}`, {
        method,
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new BrokerError(
        'BrokerUnavailable',
        `RabbitMQ management API at ${this.base} is unreachable (${cause})`,
      );
    }
    if (res.status === 404 && allow404) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new BrokerError(
        'BrokerRefused',
        `RabbitMQ refused ${method} ${path} for user ${this.adminUser} (${res.status})`,
      );
    }
    if (!res.ok) {
      throw new BrokerError(
        'BrokerError',
        `RabbitMQ ${method} ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`,
      );
    }
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Returns true when it had to create the vhost. */
  async ensureVhost(vhost: string): Promise<boolean> {
    if (await this.call('GET', `/vhosts/${enc(vhost)}`, undefined, true)) return false;
    await this.call('PUT', `/vhosts/${enc(vhost)}`, {
      description: 'Gorten tenant',
      tags: 'gorten',
    });
    return true;
  }

  /** Creates the user or resets its password when the stored hash does not match. */
  async ensureUser(
    user: string,
    password: string,
  ): Promise<'unchanged' | 'created' | 'reset-password'> {
    const existing = await this.call<{
      password_hash: string;
      hashing_algorithm: string;
      tags: string | string[];
    }>('GET', `/users/${enc(user)}`, undefined, true);
    if (
      existing &&
      rabbitHashMatches(password, existing.password_hash, existing.hashing_algorithm)
    ) {
      const tags = Array.isArray(existing.tags) ? existing.tags.join(',') : existing.tags;
      if (tags === '') return 'unchanged';
    }
    await this.call('PUT', `/users/${enc(user)}`, { password, tags: '' });
    return existing ? 'reset-password' : 'created';
  }

  /** Returns true when it had to write the permissions. */
  async ensurePermissions(vhost: string, user: string, wanted: Permissions): Promise<boolean> {
    const path = `/permissions/${enc(vhost)}/${enc(user)}`;
    const current = await this.call<Permissions>('GET', path, undefined, true);
    if (
      current &&
      current.configure === wanted.configure &&
      current.write === wanted.write &&
      current.read === wanted.read
    ) {
      return false;
    }
    await this.call('PUT', path, wanted);
    return true;
  }

  /**
   * Declares what is missing of `topology` in `vhost`, all of it in one definitions import
   * (three reads, then one write or none). An existing exchange or queue with other
   * settings is a TopologyConflict: it is reported, never deleted (it may hold messages),
   * and left out of the import, which brings only what is missing.
   */
  async ensureTopology(vhost: string, topology: Topology): Promise<TopologyChange[]> {
    const v = enc(vhost);
    const [exchanges, queues, bindings] = await Promise.all([
      this.call<Exchange[]>('GET', `/exchanges/${v}`),
      this.call<Queue[]>('GET', `/queues/${v}`),
      this.call<Binding[]>('GET', `/bindings/${v}`),
    ]);
    const missing: Topology = { exchanges: [], queues: [], bindings: [] };
    const changes: TopologyChange[] = [];
    const conflicts: string[] = [];
    for (const wanted of topology.exchanges) {
      const live = exchanges?.find((e) => e.name === wanted.name);
      if (!live) {
        missing.exchanges.push(wanted);
        changes.push(`exchange ${wanted.name}`);
      } else if (
        live.type !== wanted.type ||
        live.durable !== wanted.durable ||
        !sameArguments(live.arguments, wanted.arguments)
      ) {
        conflicts.push(
          `exchange ${wanted.name} exists as ${live.type}${live.durable ? '' : ' (transient)'}, wanted ${wanted.type}`,
        );
      }
    }
    for (const wanted of topology.queues) {
      const live = queues?.find((q) => q.name === wanted.name);
      if (!live) {
        missing.queues.push(wanted);
        changes.push(`queue ${wanted.name}`);
      } else if (
        live.durable !== wanted.durable ||
        !sameArguments(live.arguments, wanted.arguments)
      ) {
        conflicts.push(
          `queue ${wanted.name} exists with other settings (${JSON.stringify(live.arguments)})`,
        );
      }
    }
    for (const wanted of topology.bindings) {
      const exists = bindings?.some(
        (b) =>
          b.source === wanted.source &&
          b.destination === wanted.destination &&
          b.destination_type === wanted.destination_type &&
          b.routing_key === wanted.routing_key,
      );
      if (!exists) {
        missing.bindings.push(wanted);
        changes.push(`binding ${wanted.source} -[${wanted.routing_key}]-> ${wanted.destination}`);
      }
    }
    if (changes.length > 0) await this.call('POST', `/definitions/${v}`, missing);
    if (conflicts.length > 0) throw new BrokerError('TopologyConflict', conflicts.join('; '));
    return changes;
  }

  async vhostExists(vhost: string): Promise<boolean> {
    return (await this.call('GET', `/vhosts/${enc(vhost)}`, undefined, true)) !== undefined;
  }

  /** Deletes the vhost (with everything in it) and the user. Idempotent. */
  async deleteTenant(vhost: string, user: string): Promise<void> {
    await this.call('DELETE', `/vhosts/${enc(vhost)}`, undefined, true);
    await this.call('DELETE', `/users/${enc(user)}`, undefined, true);
  }
}
