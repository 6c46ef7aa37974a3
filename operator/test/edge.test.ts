// The edge builders are pure: how Kong calls each service (timeouts, retries on the
// Service; health checks, circuit breaker and balancing in its KongUpstreamPolicy).
import { SERVICE_NAMES, type Marketplace, type MarketplaceSpec } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import {
  buildUpstreamPolicy,
  EDGE_DEFAULTS,
  edgeAnnotations,
  serviceEdge,
} from '../src/marketplace/edge.js';
import { ROUTES } from '../src/marketplace/gateway.js';
import { buildService, buildWorkloadsPlane } from '../src/marketplace/workloads.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

function tenant(gateway: MarketplaceSpec['gateway'] = {}): Marketplace {
  return {
    apiVersion: 'gorten.io/v1alpha1',
    kind: 'Marketplace',
    metadata: { name: 'acme', uid: 'uid-1' },
    spec: { displayName: 'ACME', host: 'acme.shop.example.com', gateway },
  };
}

interface PolicySpec {
  algorithm: string;
  healthchecks: {
    active: {
      type: string;
      httpPath: string;
      timeout: number;
      healthy: { interval: number; successes: number };
      unhealthy: { interval: number; httpFailures: number; timeouts: number; tcpFailures: number };
    };
    passive: {
      healthy: { successes: number };
      unhealthy: {
        httpFailures: number;
        httpStatuses: number[];
        timeouts: number;
        tcpFailures: number;
      };
    };
  };
}
const policySpec = (o: KubeObject) => o.spec as PolicySpec;

describe('the edge of each service', () => {
  test('every Service names its own KongUpstreamPolicy and carries timeouts and retries in milliseconds', () => {
    for (const service of SERVICE_NAMES) {
      const annotations = buildService(tenant(), service).metadata.annotations ?? {};
      expect(annotations).toEqual({
        'konghq.com/connect-timeout': String(EDGE_DEFAULTS[service].connectMilliseconds),
        'konghq.com/read-timeout': String(EDGE_DEFAULTS[service].readMilliseconds),
        'konghq.com/write-timeout': String(EDGE_DEFAULTS[service].writeMilliseconds),
        'konghq.com/retries': String(EDGE_DEFAULTS[service].retries),
        'konghq.com/upstream-policy': service,
      });
      for (const value of Object.values(annotations)) expect(value).toMatch(/^[a-z0-9-]+$/);
    }
  });

  test('Kong never retries a checkout or a payment, whatever the method', () => {
    for (const service of ['checkout', 'payments'] as const) {
      expect(edgeAnnotations(tenant(), service)['konghq.com/retries']).toBe('0');
    }
  });

  test('a checkout may take longer than a catalog read, and every read timeout is bounded', () => {
    const read = (s: keyof typeof EDGE_DEFAULTS) => serviceEdge(tenant(), s).readMilliseconds;
    expect(read('checkout')).toBeGreaterThan(read('catalog'));
    // The default is Kong's 60 s: every routed service answers (or fails) well before.
    for (const route of ROUTES) expect(read(route.service)).toBeLessThan(60_000);
    expect(serviceEdge(tenant(), 'catalog').retries).toBeGreaterThan(0);
  });

  test("the tenant's timeouts and algorithm override the defaults of the services they name", () => {
    const mp = tenant({
      timeouts: { checkout: { readMilliseconds: 45_000 }, catalog: { connectMilliseconds: 500 } },
      upstream: { algorithm: 'latency' },
    });
    expect(edgeAnnotations(mp, 'checkout')).toMatchObject({
      'konghq.com/read-timeout': '45000',
      'konghq.com/connect-timeout': String(EDGE_DEFAULTS.checkout.connectMilliseconds),
      'konghq.com/retries': '0',
    });
    expect(edgeAnnotations(mp, 'catalog')['konghq.com/connect-timeout']).toBe('500');
    expect(edgeAnnotations(mp, 'orders')['konghq.com/read-timeout']).toBe(
      String(EDGE_DEFAULTS.orders.readMilliseconds),
    );
    for (const service of SERVICE_NAMES)
      expect(policySpec(buildUpstreamPolicy(mp, service)).algorithm).toBe('latency');
  });

  test('the upstream policy probes /readyz and breaks the circuit on consecutive 5xx, timeouts and refused connections', () => {
    const policy = buildUpstreamPolicy(tenant(), 'catalog');
    expect(policy).toMatchObject({
      apiVersion: 'configuration.konghq.com/v1beta1',
      kind: 'KongUpstreamPolicy',
      metadata: {
        name: 'catalog',
        namespace: 'mp-acme',
        labels: { 'gorten.io/marketplace': 'acme' },
        ownerReferences: [{ kind: 'Marketplace', name: 'acme', uid: 'uid-1', controller: true }],
      },
    });
    const { algorithm, healthchecks } = policySpec(policy);
    expect(algorithm).toBe('round-robin');
    expect(healthchecks.active).toMatchObject({
      type: 'http',
      httpPath: '/readyz',
      timeout: 2,
      healthy: { interval: 5, successes: 2 },
      // Unhealthy targets are probed too: it is what brings back one the breaker took out.
      unhealthy: { interval: 5, httpFailures: 3, timeouts: 3, tcpFailures: 3 },
    });
    expect(healthchecks.passive.unhealthy).toEqual({
      httpFailures: 5,
      httpStatuses: [500, 502, 503, 504],
      timeouts: 3,
      tcpFailures: 2,
    });
    // 0 would disable Kong's success counter: failures would add up instead of being consecutive.
    expect(healthchecks.passive.healthy.successes).toBeGreaterThan(0);
    expect(policySpec(buildUpstreamPolicy(tenant(), 'checkout')).algorithm).toBe(
      'least-connections',
    );
  });

  test("the tenant's health-check and circuit-breaker settings reach every policy", () => {
    const mp = tenant({
      upstream: {
        healthChecks: { intervalSeconds: 10, timeoutSeconds: 3, unhealthyFailures: 2 },
        circuitBreaker: { serverErrors: 20, timeouts: 1 },
      },
    });
    const { healthchecks } = policySpec(buildUpstreamPolicy(mp, 'orders'));
    expect(healthchecks.active).toMatchObject({
      timeout: 3,
      healthy: { interval: 10, successes: 2 },
      unhealthy: { interval: 10, httpFailures: 2, timeouts: 2, tcpFailures: 2 },
    });
    expect(healthchecks.passive.unhealthy).toMatchObject({
      httpFailures: 20,
      timeouts: 1,
      tcpFailures: 2,
    });
  });

  test('the workloads plane writes each policy before the Service that names it', () => {
    const kinds = buildWorkloadsPlane(tenant(), DEFAULT_SETTINGS, 'd').map(
      (o) => `${o.kind}/${o.metadata.name}`,
    );
    for (const service of SERVICE_NAMES) {
      const policy = kinds.indexOf(`KongUpstreamPolicy/${service}`);
      expect(policy).toBeGreaterThanOrEqual(0);
      expect(policy).toBeLessThan(kinds.indexOf(`Service/${service}`));
    }
  });
});
