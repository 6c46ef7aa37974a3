// The tenants' Deployments, watched across namespaces (those labelled gorten.io/marketplace)
// into one cache. The workloads plane compares with the cache instead of listing per
// reconcile, and a change in a Deployment's rollout or stop state (or its deletion)
// queues its Marketplace at once: no plane polls while a rollout runs.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Kube, KubeObject } from '../clients/kube.js';
import { Informer } from '../runtime/informer.js';
import { rolloutLag, stillRunning } from './workloads.js';

export const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
const OWNER_LABEL = 'gorten.io/marketplace';

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

export class TenantDeployments {
  readonly informer: Informer<KubeObject>;
  /** The cache again, by namespace: a reconcile reads its own namespace's only. */
  private readonly byNamespace = new Map<string, Map<string, KubeObject>>();

  constructor(kube: Kube, kc: KubeConfig, onChange: (marketplace: string) => void, log: Logger) {
    this.informer = new Informer<KubeObject>(
      kube,
      kc,
      DEPLOYMENT,
      (key, previous, current) => {
        this.index(key, previous, current);
        const owner = (current ?? previous)?.metadata.labels?.[OWNER_LABEL];
        if (owner && deploymentStateChanged(previous, current)) onChange(owner);
      },
      {
        labelSelector: OWNER_LABEL,
        onError: (err) => log.warn({ err, kind: 'Deployment' }, 'watch failed; reopening'),
      },
    );
  }

  private index(key: string, previous?: KubeObject, current?: KubeObject): void {
    const namespace = (current ?? previous)?.metadata.namespace ?? '';
    let objects = this.byNamespace.get(namespace);
    if (current) {
      if (!objects) this.byNamespace.set(namespace, (objects = new Map<string, KubeObject>()));
      objects.set(key, current);
    } else {
      objects?.delete(key);
      if (objects?.size === 0) this.byNamespace.delete(namespace);
    }
  }

  /** The cached Deployments of one namespace (what a list there would answer, as last seen). */
  in(namespace: string): KubeObject[] {
    return [...(this.byNamespace.get(namespace)?.values() ?? [])];
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    this.informer.stop();
    return Promise.resolve();
  }
}
