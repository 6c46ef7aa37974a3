// WorkloadsReady: per service a Deployment, Service (with Kong's timeouts and retries),
// KongUpstreamPolicy and PodDisruptionBudget (an HPA when autoscaling is set), the
// ConfigMap `tenant-config`, and the Secrets only the services read: the signing key,
// the first admin's credentials, the mail relay, the key of the request fingerprints.
// Pods carry a digest of every credential and setting, so a change rolls them. Where the
// cluster has the Prometheus Operator, a ServiceMonitor of the services too
// (ScrapeConfigured). Before a deletion drops the tenant's data, every
// service is scaled to zero and its pods waited for.
import { progressing, ready } from '../../runtime/plan.js';
import {
  buildAdminSecret,
  buildIdempotencySecret,
  buildSigningKeySecret,
  buildSmtpSecret,
} from '../credentials.js';
import type { KubeObject } from '../../clients/kube.js';
import { refOf } from '../../clients/kube.js';
import {
  buildConfigMap,
  buildWorkloadsPlane,
  configDigest,
  rolloutLag,
  stillRunning,
} from '../workloads.js';
import { tenantNames } from '../names.js';
import { convergeServiceMonitor } from './service-monitor.js';
import { applyOwned, type TenantPlane } from './tenant.js';

/**
 * How soon to look again while Deployments are still rolling out, when no informer on them
 * (marketplace/owned.ts) queues the tenant as their rollout moves.
 */
const ROLLOUT_POLL_MS = 5_000;

/** An HPA comes and goes with spec.services.*.autoscaling, so it is pruned. */
const AUTOSCALER = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' } as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

export const workloadsPlane: TenantPlane<'WorkloadsReady'> = {
  condition: 'WorkloadsReady',

  async converge(tenant) {
    const { deps, mp, credentials } = tenant;
    // Without a cache the pods read no Redis password (nor is one kept: it is new each time).
    const { cachePassword: _, ...withoutCache } = credentials;
    const read = deps.settings.redisTenantHost ? credentials : withoutCache;
    const digest = configDigest([read, buildConfigMap(mp, deps.settings).data]);
    const { live } = await applyOwned(
      tenant,
      [
        buildSigningKeySecret(mp, credentials.signingKey),
        buildAdminSecret(mp, credentials.adminPassword),
        buildSmtpSecret(mp, deps.settings),
        buildIdempotencySecret(mp, credentials.idempotencyKey),
        ...buildWorkloadsPlane(mp, deps.settings, digest),
      ],
      [AUTOSCALER],
    );
    const scrape = await convergeServiceMonitor(tenant);
    const informational = scrape ? [scrape] : [];
    const deployments = [...live.values()].filter(
      (o) =>
        o.kind === 'Deployment' &&
        o.metadata.labels?.['gorten.io/marketplace'] === mp.metadata.name,
    );
    const lagging = rolloutLag(deployments);
    const outcome =
      lagging.length > 0
        ? progressing('RollingOut', lagging.join(', '), deps.owned ? undefined : ROLLOUT_POLL_MS)
        : mp.spec.suspended
          ? ready('Suspended', 'every service is scaled to zero')
          : ready('Available', `${deployments.length} services available`);
    return { ...outcome, informational };
  },

  failureReason: () => 'ApplyFailed',

  async stop(deps, mp) {
    const { namespace } = tenantNames(mp.metadata.name);
    const own = (o: KubeObject) =>
      o.metadata.labels?.['gorten.io/marketplace'] === mp.metadata.name;
    // The informers' caches where there are some (their Deployment events queue the
    // tenant again as its pods stop); a list of each kind where not.
    const cached = deps.owned?.listed(namespace);
    const current = async <T extends KubeObject>(ref: { apiVersion: string; kind: string }) =>
      (cached?.get(`${ref.apiVersion}/${ref.kind}`) as T[] | undefined) ??
      (await deps.kube.list<T>({ ...ref, namespace })).items;
    // An HPA would scale a service back up; without one nothing does.
    for (const hpa of (await current(AUTOSCALER)).filter(own))
      await deps.kube.delete(refOf({ ...hpa, ...AUTOSCALER }));
    const deployments = (
      await current<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT)
    ).filter(own);
    for (const d of deployments.filter((d) => d.spec?.replicas !== 0)) {
      await deps.kube.mergePatch(
        { ...DEPLOYMENT, namespace, name: d.metadata.name },
        { spec: { replicas: 0 } },
      );
    }
    // As last seen: one just asked for 0 still counts as running until the next look.
    return stillRunning(deployments);
  },
};
