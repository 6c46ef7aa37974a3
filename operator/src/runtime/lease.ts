// Leader election on a coordination.k8s.io Lease, the protocol client-go uses: the
// holder renews the Lease; another replica takes it over only once it has expired.
// Optimistic concurrency (resourceVersion) makes two replicas' takeovers exclusive.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeError, type Kube, type KubeObject } from '../clients/kube.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  /** How often the holder renews and a candidate retries. */
  retryPeriodMs: number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}
type Lease = KubeObject & { spec?: LeaseSpec };

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(date: Date): string {
  return date.toISOString().replace('Z', '000Z');
}

export class LeaderElector {
  private leading = false;
  private stopped = false;

  constructor(
    private readonly kube: Kube,
    private readonly opts: LeaseOptions,
    private readonly onError?: (err: unknown) => void,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private ref() {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: this.opts.name,
      namespace: this.opts.namespace,
    };
  }

  /** One attempt to acquire or renew. Returns whether we hold the Lease afterwards. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const { identity, leaseDurationSeconds } = this.opts;
    const current = await this.kube.get<Lease>(this.ref());
    if (!current) {
      await this.kube.create({
        ...this.ref(),
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      return true;
    }
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired =
      renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (holder !== identity && holder !== '' && !expired) return false;
    const takeover = holder !== identity;
    const next: LeaseSpec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: microTime(now),
      ...(takeover
        ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    // resourceVersion makes this a compare-and-swap: a racing replica gets 409.
    await this.kube.request(
      'PUT',
      `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`,
      {
        ...current,
        spec: next,
      },
    );
    return true;
  }

  /**
   * Waits until this replica leads, then keeps renewing. `onLost` runs if a renewal has
   * not succeeded for a whole lease duration (another replica may lead by then).
   */
  async run(onLead: () => Promise<void>, onLost: () => void): Promise<void> {
    let lastRenew = 0;
    while (!this.stopped) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (err) {
        // 409: another replica changed the Lease first. Anything else: the apiserver is
        // unreachable; either way we do not hold it this round.
        if (!(err instanceof KubeError && err.status === 409)) this.onError?.(err);
      }
      if (held) {
        lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          await onLead();
        }
      } else if (this.leading && Date.now() - lastRenew > this.opts.leaseDurationSeconds * 1000) {
        this.leading = false;
        onLost();
        return;
      }
      await sleep(this.opts.retryPeriodMs);
    }
  }

  /** Gives the Lease up at shutdown so a standby replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    const current = await this.kube.get<Lease>(this.ref());
    if (current?.spec?.holderIdentity !== this.opts.identity) return;
    await this.kube.request(
      'PUT',
      `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`,
      {
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date()),
        },
      },
    );
  }
}
