// Per service: a Deployment, a Service (with Kong's timeouts and retries) and its
// KongUpstreamPolicy, a PodDisruptionBudget and, when the spec asks for autoscaling, a
// HorizontalPodAutoscaler; plus the tenant ConfigMap they all read
// (the tenant's settings, and where its spans go). One image runs every service; its
// first argument picks which.
import { createHash } from 'node:crypto';
import {
  SERVICE_NAMES,
  type Marketplace,
  type ServiceName,
  type ServiceSpec,
} from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import type { OperatorSettings } from '../settings.js';
import { buildUpstreamPolicy, edgeAnnotations } from './edge.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';

export const HTTP_PORT = 8080;

/** `app.kubernetes.io/component` of every service's objects (the ServiceMonitor selects it). */
export const SERVICE_COMPONENT = 'service';

function serviceLabels(mp: Marketplace, service: ServiceName): Record<string, string> {
  return {
    ...tenantLabels(mp),
    'app.kubernetes.io/name': service,
    'app.kubernetes.io/component': SERVICE_COMPONENT,
  };
}

function selector(mp: Marketplace, service: ServiceName): Record<string, string> {
  return { 'gorten.io/marketplace': mp.metadata.name, 'app.kubernetes.io/name': service };
}

function meta(
  mp: Marketplace,
  name: string,
  labels: Record<string, string>,
  annotations?: Record<string, string>,
): KubeObject['metadata'] {
  return {
    name,
    namespace: tenantNames(mp.metadata.name).namespace,
    labels,
    ...(annotations ? { annotations } : {}),
    ownerReferences: ownedBy(mp),
  };
}

export function serviceSpec(mp: Marketplace, service: ServiceName): ServiceSpec {
  return mp.spec.services?.[service] ?? {};
}

/** Replicas the Deployment should have; undefined when an HPA owns the number. */
export function desiredReplicas(mp: Marketplace, service: ServiceName): number | undefined {
  if (mp.spec.suspended) return 0;
  const spec = serviceSpec(mp, service);
  if (spec.autoscaling) return undefined;
  return spec.replicas ?? 1;
}

/**
 * The standard OTEL_* settings of the kit's tracing, where the operator has a collector
 * for the tenants; none without one (the services then trace nothing). Sampling is
 * parent-based: a request continuing a sampled trace is recorded whatever the ratio.
 */
export function tracingConfig(mp: Marketplace, settings: OperatorSettings): Record<string, string> {
  const tracing = settings.tenantTracing;
  if (!tracing) return {};
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: tracing.otlpEndpoint,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(mp.spec.tracing?.sampleRatio ?? tracing.sampleRatio),
  };
}

export function buildConfigMap(mp: Marketplace, settings: OperatorSettings): KubeObject {
  const names = tenantNames(mp.metadata.name);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(mp, names.configMap, tenantLabels(mp)),
    data: {
      MARKETPLACE: mp.metadata.name,
      MARKETPLACE_DISPLAY_NAME: mp.spec.displayName,
      MARKETPLACE_HOST: mp.spec.host,
      CURRENCY: mp.spec.currency ?? 'EUR',
      HTTP_PORT: String(HTTP_PORT),
      JWT_ISSUER: names.tokenIssuer,
      JWT_AUDIENCE: mp.metadata.name,
      CORS_ORIGINS: (mp.spec.gateway?.corsOrigins ?? []).join(','),
      MAIL_FROM: mp.spec.email?.from ?? `no-reply@${mp.spec.host}`,
      // Every key the services write starts with it: their Redis user may touch no other.
      ...(settings.redisTenantHost ? { REDIS_KEY_PREFIX: names.cacheKeyPrefix } : {}),
      ...tracingConfig(mp, settings),
    },
  };
}

/**
 * A digest of what the pods read from Secrets and the ConfigMap: put on the pod template,
 * so a rotated password or a changed setting rolls the pods.
 */
export function configDigest(inputs: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

/** The services that keep Idempotency-Key records (POST /checkout, refunds). */
const FINGERPRINTING: ReadonlySet<ServiceName> = new Set(['checkout', 'orders']);

function secretEnv(name: string, secret: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

export function buildDeployment(
  mp: Marketplace,
  service: ServiceName,
  settings: OperatorSettings,
  digest: string,
): KubeObject {
  const names = tenantNames(mp.metadata.name);
  const spec = serviceSpec(mp, service);
  const defaults = settings.containerDefaults;
  const image = `${mp.spec.image?.repository ?? settings.image.repository}:${mp.spec.image?.tag ?? settings.image.tag}`;
  const replicas = desiredReplicas(mp, service);
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(mp, service, serviceLabels(mp, service)),
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selector(mp, service) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: serviceLabels(mp, service),
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(HTTP_PORT),
            'prometheus.io/path': '/metrics',
            'gorten.io/config-digest': digest,
          },
        },
        spec: {
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: service,
              image,
              args: [service],
              ports: [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }],
              envFrom: [{ configMapRef: { name: names.configMap } }],
              env: [
                { name: 'SERVICE', value: service },
                secretEnv('MONGODB_URI', names.databaseSecret, 'uri'),
                secretEnv('AMQP_URL', names.brokerSecret, 'uri'),
                secretEnv('JWT_PUBLIC_KEY', names.signingKeySecret, 'public.pem'),
                // The cache plane's Secret, when the operator has a Redis.
                ...(settings.redisTenantHost
                  ? [secretEnv('REDIS_URL', names.cacheSecret, 'uri')]
                  : []),
                // Only the users service signs tokens and knows the first admin; only
                // the email worker talks to the mail relay; only the services that keep
                // Idempotency-Key records fingerprint requests.
                ...(service === 'users'
                  ? [
                      secretEnv('JWT_PRIVATE_KEY', names.signingKeySecret, 'private.pem'),
                      secretEnv('BOOTSTRAP_ADMIN_EMAIL', names.adminSecret, 'email'),
                      secretEnv('BOOTSTRAP_ADMIN_PASSWORD', names.adminSecret, 'password'),
                    ]
                  : []),
                ...(service === 'notifications'
                  ? [secretEnv('SMTP_URL', names.smtpSecret, 'uri')]
                  : []),
                ...(FINGERPRINTING.has(service)
                  ? [secretEnv('IDEMPOTENCY_HMAC_KEY', names.idempotencySecret, 'hmac-key')]
                  : []),
              ],
              resources: {
                requests: { ...defaults.requests, ...stringQuantities(spec.resources?.requests) },
                limits: { ...defaults.limits, ...stringQuantities(spec.resources?.limits) },
              },
              readinessProbe: probe('/readyz', 5),
              livenessProbe: { ...probe('/healthz', 10), initialDelaySeconds: 10 },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

/** Quantities as strings: the apiserver returns them so, and SSA then sees no difference. */
function stringQuantities(
  q: { cpu?: string | number; memory?: string | number } | undefined,
): Record<string, string> {
  return Object.fromEntries(Object.entries(q ?? {}).map(([k, v]) => [k, String(v)]));
}

/** The Service, with the annotations that tell KIC how Kong calls it (edge.ts). */
export function buildService(mp: Marketplace, service: ServiceName): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(mp, service, serviceLabels(mp, service), edgeAnnotations(mp, service)),
    spec: {
      type: 'ClusterIP',
      selector: selector(mp, service),
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export function buildPodDisruptionBudget(mp: Marketplace, service: ServiceName): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(mp, service, serviceLabels(mp, service)),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(mp, service) } },
  };
}

/** The HPA, when the spec asks for autoscaling and the tenant is not suspended. */
export function buildAutoscaler(mp: Marketplace, service: ServiceName): KubeObject | undefined {
  const autoscaling = serviceSpec(mp, service).autoscaling;
  if (!autoscaling || mp.spec.suspended) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(mp, service, serviceLabels(mp, service)),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service },
      minReplicas: autoscaling.minReplicas ?? 1,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: {
              type: 'Utilization',
              averageUtilization: autoscaling.targetCPUUtilizationPercentage ?? 75,
            },
          },
        },
      ],
    },
  };
}

/**
 * Everything of the workloads plane. An HPA that is no longer wanted (autoscaling unset,
 * or suspended) is simply absent: the apply set prunes it.
 */
export function buildWorkloadsPlane(
  mp: Marketplace,
  settings: OperatorSettings,
  digest: string,
): KubeObject[] {
  const objects: KubeObject[] = [buildConfigMap(mp, settings)];
  for (const service of SERVICE_NAMES) {
    objects.push(
      buildDeployment(mp, service, settings, digest),
      // Before its Service, which names it: KIC never sees a reference to nothing.
      buildUpstreamPolicy(mp, service),
      buildService(mp, service),
      buildPodDisruptionBudget(mp, service),
    );
    const hpa = buildAutoscaler(mp, service);
    if (hpa) objects.push(hpa);
  }
  return objects;
}

interface DeploymentStatus {
  metadata: { generation?: number; name: string };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    replicas?: number;
    /** Pods being deleted; reported by apiservers with DeploymentReplicaSetTerminatingReplicas. */
    terminatingReplicas?: number;
  };
}

/** Which services are not yet rolled out: the Deployment controller has not caught up. */
export function rolloutLag(deployments: readonly DeploymentStatus[]): string[] {
  return deployments
    .filter((d) => {
      const wanted = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      return (
        (s.observedGeneration ?? 0) < (d.metadata.generation ?? 1) ||
        (s.updatedReplicas ?? 0) < wanted ||
        (s.availableReplicas ?? 0) < wanted
      );
    })
    .map(
      (d) =>
        `${d.metadata.name} ${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? 1} available`,
    );
}

/**
 * Which services still run pods, while a tenant is stopped before its data is dropped:
 * a Deployment is stopped once asked for 0, the controller has seen that, and it reports
 * no pods, terminating ones included where the apiserver counts them.
 */
export function stillRunning(deployments: readonly DeploymentStatus[]): string[] {
  return deployments
    .filter((d) => {
      const s = d.status ?? {};
      return (
        (d.spec?.replicas ?? 1) > 0 ||
        (s.observedGeneration ?? 0) < (d.metadata.generation ?? 1) ||
        (s.replicas ?? 0) > 0 ||
        (s.terminatingReplicas ?? 0) > 0
      );
    })
    .map((d) => `${d.metadata.name} (${d.status?.replicas ?? 0} pods)`);
}
