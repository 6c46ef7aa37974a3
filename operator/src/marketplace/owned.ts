// The tenants' objects, watched across namespaces (those labelled gorten.io/marketplace):
// one informer per kind the planes write, Secrets excepted (the operator may read those
// only inside each tenant namespace), and one on the tenant namespaces. The planes compare
// with these caches instead of listing per reconcile; a change in a Deployment's rollout
// or stop state (or its deletion) queues its Marketplace at once: nothing polls while a
// rollout runs, nor while a deleted tenant's pods stop.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Kube, KubeObject } from '../clients/kube.js';
import { Informer } from '../runtime/informer.js';
import { rolloutLag, stillRunning } from './workloads.js';

const OWNER_LABEL = 'gorten.io/marketplace';

/** Every namespaced kind a plane applies or prunes, but Secrets. */
export const CACHED_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ResourceQuota' },
  { apiVersion: 'v1', kind: 'LimitRange' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'configuration.konghq.com/v1', kind: 'KongPlugin' },
  { apiVersion: 'configuration.konghq.com/v1', kind: 'KongConsumer' },
  { apiVersion: 'configuration.konghq.com/v1beta1', kind: 'KongUpstreamPolicy' },
] as const;

type Deployment = KubeObject & Parameters<typeof rolloutLag>[0][number];

/**
 * What a reconcile would find about one Deployment: whether it lags its rollout or still
 * runs, and its generation (a change by someone else is drift to undo). Not the replica
 * counts: a rollout's every step would queue a reconcile, where only its end matters.
 */
function stateOf(d: Deployment | undefined): string {
  if (!d) return 'absent';
  return JSON.stringify([
    rolloutLag([d]).length > 0,
    stillRunning([d]).length > 0,
    d.metadata.generation,
  ]);
}

/** Whether a Deployment event changes what its Marketplace's reconcile would see. */
export function deploymentStateChanged(
  previous: KubeObject | undefined,
  current: KubeObject | undefined,
): boolean {
  return stateOf(previous) !== stateOf(current);
}

/** One kind's cache again, by namespace: a reconcile reads its own namespace's only. */
class ByNamespace {
  private readonly objects = new Map<string, Map<string, KubeObject>>();

  update(key: string, previous?: KubeObject, current?: KubeObject): void {
    const namespace = (current ?? previous)?.metadata.namespace ?? '';
    let objects = this.objects.get(namespace);
    if (current) {
      if (!objects) this.objects.set(namespace, (objects = new Map<string, KubeObject>()));
      objects.set(key, current);
    } else {
      objects?.delete(key);
      if (objects?.size === 0) this.objects.delete(namespace);
    }
  }

  in(namespace: string): KubeObject[] {
    return [...(this.objects.get(namespace)?.values() ?? [])];
  }
}

export class TenantObjects {
  private readonly informers: Informer<KubeObject>[] = [];
  private readonly byKind = new Map<string, ByNamespace>();
  private readonly namespaces: Informer<KubeObject>;

  constructor(
    kube: Kube,
    kc: KubeConfig,
    onDeploymentChange: (marketplace: string) => void,
    log: Logger,
  ) {
    const options = (kind: string) => ({
      labelSelector: OWNER_LABEL,
      onError: (err: unknown) => log.warn({ err, kind }, 'watch failed; reopening'),
    });
    for (const ref of CACHED_KINDS) {
      const index = new ByNamespace();
      this.byKind.set(`${ref.apiVersion}/${ref.kind}`, index);
      const deployments = ref.kind === 'Deployment';
      const informer = new Informer<KubeObject>(
        kube,
        kc,
        ref,
        (key, previous, current) => {
          index.update(key, previous, current);
          const owner = (current ?? previous)?.metadata.labels?.[OWNER_LABEL];
          if (deployments && owner && deploymentStateChanged(previous, current))
            onDeploymentChange(owner);
        },
        options(ref.kind),
      );
      this.informers.push(informer);
    }
    this.namespaces = new Informer<KubeObject>(
      kube,
      kc,
      { apiVersion: 'v1', kind: 'Namespace' },
      () => undefined,
      options('Namespace'),
    );
    this.informers.push(this.namespaces);
  }

  /** The cached objects of `namespace`, by "apiVersion/Kind" (what lists there would answer). */
  listed(namespace: string): Map<string, KubeObject[]> {
    return new Map([...this.byKind].map(([kind, index]) => [kind, index.in(namespace)]));
  }

  /** The tenant namespace as last seen, if it carries the tenant label (else ask the server). */
  namespace(name: string): KubeObject | undefined {
    return this.namespaces.cache.get(name);
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  stop(): Promise<void> {
    for (const informer of this.informers) informer.stop();
    return Promise.resolve();
  }
}
