// The edge against the real kube-apiserver of the test environment: the operator's
// KongUpstreamPolicies, annotated Services and KongPlugins meet KIC's own CRDs
// (kubernetes-configuration, installed by testenv) under strict field validation, and
// spec.gateway values out of range are refused by the Marketplace CRD with the field's
// name. Dry runs only.
import { randomBytes } from 'node:crypto';
import { SERVICE_NAMES, type Marketplace, type MarketplaceSpec } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import { resourcePath } from '../src/clients/resources.js';
import { containsDesired } from '../src/runtime/equality.js';
import { buildUpstreamPolicy } from '../src/marketplace/edge.js';
import { buildKongPlugins } from '../src/marketplace/gateway.js';
import { buildService } from '../src/marketplace/workloads.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { ensureCrds, marketplace, testKube } from './support.js';

const kube = testKube();
const run = randomBytes(2).toString('hex');
/** Any namespace that exists: a dry run writes nothing there. */
const NAMESPACE = 'default';

beforeAll(async () => {
  await ensureCrds(kube);
});

afterAll(() => {
  kube.close();
});

function tenant(gateway: MarketplaceSpec['gateway']): Marketplace {
  return {
    apiVersion: 'gorten.io/v1alpha1',
    kind: 'Marketplace',
    metadata: { name: `edge-${run}`, uid: '3f7c2a64-1d2b-4b8e-9a51-0c6f7e2d9b10' },
    spec: { displayName: 'Edge', host: `edge-${run}.shop.example.com`, gateway },
  };
}

/** Server-side apply as a dry run, unknown or duplicate fields refused, not dropped. */
function strictDryRunApply(object: KubeObject): Promise<unknown> {
  const placed = structuredClone(object);
  placed.metadata.namespace = NAMESPACE;
  return kube.request(
    'PATCH',
    `${resourcePath(refOf(placed))}?fieldManager=edge-test&dryRun=All&fieldValidation=Strict&force=true`,
    placed,
    'application/apply-patch+yaml',
  );
}

function refOf(o: KubeObject) {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.metadata.namespace,
    name: o.metadata.name,
  };
}

const EVERY_SETTING: MarketplaceSpec['gateway'] = {
  timeouts: {
    checkout: { connectMilliseconds: 100, readMilliseconds: 300_000, writeMilliseconds: 300_000 },
    catalog: { readMilliseconds: 1_000 },
  },
  upstream: {
    algorithm: 'latency',
    healthChecks: { intervalSeconds: 300, timeoutSeconds: 60, healthySuccesses: 10 },
    circuitBreaker: { serverErrors: 100, timeouts: 1, connectFailures: 100 },
  },
};

describe("the operator's edge objects against KIC's CRDs (kubernetes-configuration)", () => {
  test.each([
    ['the defaults', tenant({})],
    ['every spec.gateway setting at its bound', tenant(EVERY_SETTING)],
  ])('every KongUpstreamPolicy and Service is accepted strictly, with %s', async (_label, mp) => {
    for (const service of SERVICE_NAMES) {
      await strictDryRunApply(buildUpstreamPolicy(mp, service));
      await strictDryRunApply(buildService(mp, service));
    }
  });

  test('every KongPlugin is accepted strictly, gorten-problem-details among them', async () => {
    const plugins = buildKongPlugins(tenant(EVERY_SETTING), {
      ...DEFAULT_SETTINGS,
      kongProblemDetails: true,
    });
    expect(plugins.map((p) => p.plugin)).toContain('gorten-problem-details');
    for (const plugin of plugins) {
      // Kept as written (an empty config too), so a converged tenant rewrites none of them.
      const live = (await strictDryRunApply(plugin)) as KubeObject;
      expect(containsDesired(live, { plugin: plugin.plugin, config: plugin.config })).toBe(true);
    }
    const misspelt = { ...plugins[0]!, configs: {} };
    await expect(strictDryRunApply(misspelt)).rejects.toThrow(
      /\.configs: field not declared in schema/,
    );
  });

  test('the same check refuses a policy KIC would refuse (an interval on a passive check)', async () => {
    const policy = buildUpstreamPolicy(tenant({}), 'catalog');
    const spec = policy.spec as { healthchecks: { passive: { healthy: Record<string, number> } } };
    spec.healthchecks.passive.healthy.interval = 5;
    await expect(strictDryRunApply(policy)).rejects.toThrow(
      /spec.healthchecks.passive.healthy.interval must not be set/,
    );
    const misspelt = buildUpstreamPolicy(tenant({}), 'catalog');
    (misspelt.spec as Record<string, unknown>).healthcheck = {};
    // Server-side apply refuses what the schema does not declare (rather than pruning it).
    await expect(strictDryRunApply(misspelt)).rejects.toThrow(
      /\.spec\.healthcheck: field not declared in schema/,
    );
  });
});

describe('spec.gateway values out of range are refused by the CRD, naming the field', () => {
  const create = (gateway: MarketplaceSpec['gateway']) =>
    kube.request(
      'POST',
      '/apis/gorten.io/v1alpha1/marketplaces?fieldValidation=Strict&dryRun=All',
      marketplace('edge', `edge-bad-${run}`, { gateway }),
    );

  test('every setting at its bound is accepted', async () => {
    await expect(create(EVERY_SETTING)).resolves.toMatchObject({ kind: 'Marketplace' });
  });

  const cases: [string, MarketplaceSpec['gateway'], number, RegExp][] = [
    [
      'a connect timeout below 100 ms',
      { timeouts: { checkout: { connectMilliseconds: 0 } } },
      422,
      /spec.gateway.timeouts.checkout.connectMilliseconds: Invalid value: 0: .*greater than or equal to 100/,
    ],
    [
      'a read timeout above 5 minutes',
      { timeouts: { orders: { readMilliseconds: 300_001 } } },
      422,
      /spec.gateway.timeouts.orders.readMilliseconds: Invalid value: 300001: .*less than or equal to 300000/,
    ],
    [
      'a write timeout below 100 ms',
      { timeouts: { carts: { writeMilliseconds: 99 } } },
      422,
      /spec.gateway.timeouts.carts.writeMilliseconds/,
    ],
    [
      'a connect timeout longer than the read timeout',
      { timeouts: { catalog: { connectMilliseconds: 5_000, readMilliseconds: 1_000 } } },
      422,
      /spec.gateway.timeouts.catalog.connectMilliseconds: Invalid value: .*connectMilliseconds must not exceed readMilliseconds/,
    ],
    [
      'timeouts of a service without routes',
      { timeouts: { notifications: { readMilliseconds: 1_000 } } } as never,
      400,
      /unknown field "spec.gateway.timeouts.notifications"/,
    ],
    [
      'an unknown algorithm',
      { upstream: { algorithm: 'random' as never } },
      422,
      /spec.gateway.upstream.algorithm: Unsupported value: "random"/,
    ],
    [
      'a probe interval of 0',
      { upstream: { healthChecks: { intervalSeconds: 0 } } },
      422,
      /spec.gateway.upstream.healthChecks.intervalSeconds: Invalid value: 0: .*greater than or equal to 1/,
    ],
    [
      'a probe timeout as long as the interval',
      { upstream: { healthChecks: { intervalSeconds: 2, timeoutSeconds: 2 } } },
      422,
      /spec.gateway.upstream.healthChecks.timeoutSeconds: Invalid value: .*timeoutSeconds must be less than intervalSeconds/,
    ],
    [
      'a probe timeout at its default, above a shorter interval',
      { upstream: { healthChecks: { intervalSeconds: 1 } } },
      422,
      /spec.gateway.upstream.healthChecks.timeoutSeconds: .*must be less than intervalSeconds/,
    ],
    [
      'more than 10 probes to come back',
      { upstream: { healthChecks: { healthySuccesses: 11 } } },
      422,
      /spec.gateway.upstream.healthChecks.healthySuccesses: Invalid value: 11/,
    ],
    [
      'no failed probe to go out',
      { upstream: { healthChecks: { unhealthyFailures: 0 } } },
      422,
      /spec.gateway.upstream.healthChecks.unhealthyFailures: Invalid value: 0/,
    ],
    [
      'a circuit breaker that never opens on 5xx answers',
      { upstream: { circuitBreaker: { serverErrors: 0 } } },
      422,
      /spec.gateway.upstream.circuitBreaker.serverErrors: Invalid value: 0: .*greater than or equal to 1/,
    ],
    [
      'a circuit breaker waiting for more than 100 timeouts',
      { upstream: { circuitBreaker: { timeouts: 101 } } },
      422,
      /spec.gateway.upstream.circuitBreaker.timeouts: Invalid value: 101: .*less than or equal to 100/,
    ],
    [
      'a fractional connect-failure count',
      { upstream: { circuitBreaker: { connectFailures: 1.5 } } },
      422,
      /spec.gateway.upstream.circuitBreaker.connectFailures/,
    ],
  ];
  test.each(cases)('%s', async (_label, gateway, status, message) => {
    const attempt = create(gateway);
    await expect(attempt).rejects.toMatchObject({ status });
    await expect(attempt).rejects.toThrow(message);
  });
});
