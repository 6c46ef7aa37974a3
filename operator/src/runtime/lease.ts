// Leader election on a coordination.k8s.io Lease, the protocol client-go uses: the
// holder renews the Lease; another replica takes it over only once it has expired.
// Optimistic concurrency (resourceVersion) makes two replicas' takeovers exclusive. A
// leader that has not renewed within the renew deadline (below the lease duration) stops
// leading, and no renewal may run past that deadline, so it has stopped before a standby
// can take over.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeError, type Kube, type KubeObject } from '../clients/kube.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  /** How long a standby waits after the last renewal before it takes over. */
  leaseDurationSeconds: number;
  /** A leader that has not renewed for this long stops leading (client-go: 10 s of 15 s). */
  renewDeadlineMs: number;
  /** How long one attempt (read, then write the Lease) may take. */
  requestTimeoutMs: number;
  /** How often the holder renews and a candidate retries. */
  retryPeriodMs: number;
}

/** Refuses timings under which a leader could still lead once a standby has taken over. */
export function checkLeaseTiming(opts: LeaseOptions): void {
  const { leaseDurationSeconds, renewDeadlineMs, requestTimeoutMs, retryPeriodMs } = opts;
  if (!(renewDeadlineMs < leaseDurationSeconds * 1000))
    throw new Error('the renew deadline must be shorter than the lease duration');
  if (!(requestTimeoutMs < renewDeadlineMs && retryPeriodMs < renewDeadlineMs))
    throw new Error(
      'the request timeout and the retry period must be shorter than the renew deadline',
    );
}

/** What one attempt to acquire or renew means for this replica. */
export type LeaseStep = 'started' | 'renewed' | 'retrying' | 'stopped' | 'standby';

/**
 * After an attempt that started at `lastAttemptMs` (now `nowMs`): a leader that renewed
 * goes on, one that could not keeps trying until the deadline since its last renewal
 * and then stops; a candidate that got the Lease starts. Pure.
 */
export function afterAttempt(
  state: { leading: boolean; held: boolean; lastRenewMs: number; nowMs: number },
  renewDeadlineMs: number,
): LeaseStep {
  const { leading, held, lastRenewMs, nowMs } = state;
  if (held) return leading ? 'renewed' : 'started';
  if (!leading) return 'standby';
  return nowMs - lastRenewMs >= renewDeadlineMs ? 'stopped' : 'retrying';
}

/**
 * How long the next wait may last, `limitMs` at most: a leader never waits past its
 * renew deadline, so a hung apiserver cannot keep it leading. 0: the deadline is here.
 */
export function withinDeadline(
  limitMs: number,
  state: { leading: boolean; lastRenewMs: number; nowMs: number },
  renewDeadlineMs: number,
): number {
  if (!state.leading) return limitMs;
  return Math.max(0, Math.min(limitMs, state.lastRenewMs + renewDeadlineMs - state.nowMs));
}

/** What the elector tells its owner. */
export interface LeaderCallbacks {
  /** Run in the background: a slow start never holds up a renewal. */
  onStartedLeading: () => Promise<void>;
  /** The renew deadline passed: another replica may lead soon, so stop reconciling. */
  onStoppedLeading: () => void;
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
  ) {
    checkLeaseTiming(opts);
  }

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

  /**
   * One attempt to acquire or renew, writing `now` as the renew time. Returns whether we
   * hold the Lease afterwards; `signal` aborts it.
   */
  async tryAcquireOrRenew(now = new Date(), signal?: AbortSignal): Promise<boolean> {
    const { identity, leaseDurationSeconds } = this.opts;
    const current = await this.kube.get<Lease>(this.ref(), signal);
    if (!current) {
      await this.kube.create(
        {
          ...this.ref(),
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
        signal,
      );
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
      undefined,
      signal,
    );
    return true;
  }

  /** One attempt within `budgetMs`; a failure of any kind means we do not hold the Lease. */
  private async attempt(now: Date, budgetMs: number): Promise<boolean> {
    if (budgetMs <= 0) return false;
    try {
      return await this.tryAcquireOrRenew(now, AbortSignal.timeout(budgetMs));
    } catch (err) {
      // 409: another replica changed the Lease first. Anything else (an abort included):
      // the apiserver did not answer in time; either way we do not hold it this round.
      if (!(err instanceof KubeError && err.status === 409)) this.onError?.(err);
      return false;
    }
  }

  /**
   * Waits until this replica leads, then keeps renewing every retry period. If no renewal
   * succeeds within the renew deadline, it stops leading and calls `onStoppedLeading`.
   */
  async run(callbacks: LeaderCallbacks): Promise<void> {
    const { renewDeadlineMs, requestTimeoutMs, retryPeriodMs } = this.opts;
    let lastRenewMs = 0;
    const timing = () => ({ leading: this.leading, lastRenewMs, nowMs: Date.now() });
    while (!this.stopped) {
      const startedMs = Date.now();
      const budget = withinDeadline(requestTimeoutMs, timing(), renewDeadlineMs);
      const held = await this.attempt(new Date(startedMs), budget);
      // Released meanwhile: the answer no longer matters (and must not start anything).
      if (this.released()) return;
      const step = afterAttempt({ ...timing(), held }, renewDeadlineMs);
      // The renew time written was the attempt's start: the deadline counts from there.
      if (step === 'started' || step === 'renewed') lastRenewMs = startedMs;
      if (step === 'started') {
        this.leading = true;
        void callbacks.onStartedLeading();
      }
      if (step === 'stopped') {
        this.leading = false;
        callbacks.onStoppedLeading();
        return;
      }
      await sleep(withinDeadline(retryPeriodMs, timing(), renewDeadlineMs));
    }
  }

  private released(): boolean {
    return this.stopped;
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
