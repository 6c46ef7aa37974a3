// Resilience at the edge: how Kong calls each tenant service. Per service the connect,
// read and write timeouts and the retries (KIC annotations on its Service), and a
// KongUpstreamPolicy: active health checks on /readyz, passive ones (Kong's circuit
// breaker) and the load-balancing algorithm. tools/kong translates the same objects into
// kong/kong.yml, so the standalone Kong and the in-cluster one call the services alike.
import type { Marketplace, ServiceName, UpstreamAlgorithm } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';

export const UPSTREAM_POLICY_API_VERSION = 'configuration.konghq.com/v1beta1';
export const UPSTREAM_POLICY_KIND = 'KongUpstreamPolicy';

/** The Service annotations KIC turns into the Kong service's fields. */
export const EDGE_ANNOTATIONS = {
  connectTimeout: 'konghq.com/connect-timeout',
  readTimeout: 'konghq.com/read-timeout',
  writeTimeout: 'konghq.com/write-timeout',
  retries: 'konghq.com/retries',
  upstreamPolicy: 'konghq.com/upstream-policy',
} as const;

export interface ServiceEdge {
  connectMilliseconds: number;
  readMilliseconds: number;
  writeMilliseconds: number;
  /**
   * Further tries on another target. Kong's retries follow nginx's proxy_next_upstream
   * (`error timeout`, never `non_idempotent`): a POST or PATCH is tried again only when
   * the connection failed before the request was sent, never after a timeout; GET, HEAD,
   * PUT, DELETE and OPTIONS are tried again after a timeout too.
   */
  retries: number;
  algorithm: UpstreamAlgorithm;
}

// In-cluster connections: a SYN unanswered for 2 s (one retransmission) means the
// target is gone. Request bodies are at most a few MB (request-size-limiting), and Kong
// has them whole before it writes, so 5 s between two writes is plenty.
const CONNECT_MS = 2_000;
const WRITE_MS = 5_000;

/**
 * Each service's defaults and why. Retries are 0 where repeating a request that timed out
 * could do harm or only add load; reads may retry where every PUT and DELETE of the
 * service leaves the data as one call would.
 */
export const EDGE_DEFAULTS: Readonly<Record<ServiceName, ServiceEdge>> = {
  // Password hashing is the costliest work behind the gateway: a timeout there means the
  // CPU is saturated, and a retry would double it. A repeated PUT /me/password would also
  // answer 422 (the password already changed) after the first one succeeded.
  users: edge({ readMilliseconds: 10_000, retries: 0, algorithm: 'least-connections' }),
  // Public reads; PUT /companies/:id/members/:userId is idempotent ("already a member"),
  // DELETE /companies/:id answers 204 again, a repeated member DELETE changes nothing.
  companies: edge({ readMilliseconds: 5_000, retries: 1, algorithm: 'round-robin' }),
  // The public listing and product reads; a repeated DELETE /categories/:id changes
  // nothing (it answers 404). POST and PATCH are never retried once sent.
  catalog: edge({ readMilliseconds: 5_000, retries: 2, algorithm: 'round-robin' }),
  // PUT sets an absolute quantity and DELETE removes an item or empties the cart: a
  // repeat gives the same cart. The cart is priced by calling the catalog (10 s).
  carts: edge({ readMilliseconds: 10_000, retries: 1, algorithm: 'round-robin' }),
  // Reads retry; the status changes and refunds are POSTs (never retried once sent, and a
  // refund is keyed by Idempotency-Key). A refund waits for the payment provider.
  orders: edge({ readMilliseconds: 15_000, retries: 1, algorithm: 'least-connections' }),
  // Money: POST /payments/methods tokenizes a card at the provider (up to 2.5 provider
  // timeouts, 7.5 s by default). No retries at all, so no future PUT or a wider
  // proxy_next_upstream could ever charge or tokenize twice.
  payments: edge({ readMilliseconds: 15_000, retries: 0, algorithm: 'least-connections' }),
  // The saga: reserve stock, create the order, authorize the payment (up to 7.5 s) within
  // its 30 s lease (CHECKOUT_LEASE_MS); past that, recovery finishes it and the buyer's
  // retry with the same Idempotency-Key gets the outcome. Kong itself never sends a
  // checkout twice: retries 0.
  checkout: edge({ readMilliseconds: 30_000, retries: 0, algorithm: 'least-connections' }),
  // No route reaches it (it works off the queue); the policy is there for uniformity.
  notifications: edge({ readMilliseconds: 5_000, retries: 0, algorithm: 'round-robin' }),
};

function edge(e: Pick<ServiceEdge, 'readMilliseconds' | 'retries' | 'algorithm'>): ServiceEdge {
  return { connectMilliseconds: CONNECT_MS, writeMilliseconds: WRITE_MS, ...e };
}

/** Defaults of spec.gateway.upstream's health checks; the CRD states the same ones. */
export const HEALTH_CHECK_DEFAULTS = {
  intervalSeconds: 5,
  timeoutSeconds: 2,
  healthySuccesses: 2,
  unhealthyFailures: 3,
} as const;

/** Defaults of spec.gateway.upstream.circuitBreaker; the CRD states the same ones. */
export const CIRCUIT_BREAKER_DEFAULTS = {
  serverErrors: 5,
  timeouts: 3,
  connectFailures: 2,
} as const;

/** What counts as a target failing, in probes and in proxied traffic alike. */
export const SERVER_ERROR_STATUSES = [500, 502, 503, 504];
/** The path every service answers 200 on while it can serve (services/kit). */
export const READINESS_PATH = '/readyz';

/** The edge of one service: its defaults, with the tenant's overrides. */
export function serviceEdge(mp: Marketplace, service: ServiceName): ServiceEdge {
  const gateway = mp.spec.gateway ?? {};
  const timeouts = service === 'notifications' ? undefined : gateway.timeouts?.[service];
  const defaults = EDGE_DEFAULTS[service];
  return {
    connectMilliseconds: timeouts?.connectMilliseconds ?? defaults.connectMilliseconds,
    readMilliseconds: timeouts?.readMilliseconds ?? defaults.readMilliseconds,
    writeMilliseconds: timeouts?.writeMilliseconds ?? defaults.writeMilliseconds,
    retries: defaults.retries,
    algorithm: gateway.upstream?.algorithm ?? defaults.algorithm,
  };
}

/** The annotations of a service's Kubernetes Service (strings, as KIC reads them). */
export function edgeAnnotations(mp: Marketplace, service: ServiceName): Record<string, string> {
  const e = serviceEdge(mp, service);
  return {
    [EDGE_ANNOTATIONS.connectTimeout]: String(e.connectMilliseconds),
    [EDGE_ANNOTATIONS.readTimeout]: String(e.readMilliseconds),
    [EDGE_ANNOTATIONS.writeTimeout]: String(e.writeMilliseconds),
    [EDGE_ANNOTATIONS.retries]: String(e.retries),
    [EDGE_ANNOTATIONS.upstreamPolicy]: service,
  };
}

/**
 * The KongUpstreamPolicy of one service, named like its Service. Kong counts per target:
 * a healthy answer clears the failure counters, so the thresholds are consecutive
 * failures; for that the passive `healthy.successes` must be above 0 (0 would disable the
 * success counter, and failures would add up for ever). Passive checks only disable a
 * target; the active probes of unhealthy targets bring it back.
 */
export function buildUpstreamPolicy(mp: Marketplace, service: ServiceName): KubeObject {
  const upstream = mp.spec.gateway?.upstream ?? {};
  const probe = { ...HEALTH_CHECK_DEFAULTS, ...upstream.healthChecks };
  const breaker = { ...CIRCUIT_BREAKER_DEFAULTS, ...upstream.circuitBreaker };
  return {
    apiVersion: UPSTREAM_POLICY_API_VERSION,
    kind: UPSTREAM_POLICY_KIND,
    metadata: {
      name: service,
      namespace: tenantNames(mp.metadata.name).namespace,
      labels: { ...tenantLabels(mp), 'app.kubernetes.io/name': service },
      ownerReferences: ownedBy(mp),
    },
    spec: {
      algorithm: serviceEdge(mp, service).algorithm,
      healthchecks: {
        active: {
          type: 'http',
          httpPath: READINESS_PATH,
          timeout: probe.timeoutSeconds,
          healthy: {
            interval: probe.intervalSeconds,
            successes: probe.healthySuccesses,
            httpStatuses: [200],
          },
          unhealthy: {
            interval: probe.intervalSeconds,
            httpFailures: probe.unhealthyFailures,
            tcpFailures: probe.unhealthyFailures,
            timeouts: probe.unhealthyFailures,
            httpStatuses: SERVER_ERROR_STATUSES,
          },
        },
        passive: {
          type: 'http',
          healthy: { successes: 1 },
          unhealthy: {
            httpFailures: breaker.serverErrors,
            httpStatuses: SERVER_ERROR_STATUSES,
            tcpFailures: breaker.connectFailures,
            timeouts: breaker.timeouts,
          },
        },
      },
    },
  };
}
