// The operator's metrics without servers: tenants by condition as a scrape reports them,
// and what a controller's plans record per plane.
import { countTenantsByCondition, OperatorMetrics } from '../src/runtime/metrics.js';

const KNOWN = ['DatabaseReady', 'Ready'];
const c = (type: string, status: string) => ({ type, status });

test('every known condition has all three statuses, 0 where no tenant is so', () => {
  const counts = countTenantsByCondition([], KNOWN);
  expect(Object.fromEntries([...counts].map(([t, m]) => [t, Object.fromEntries(m)]))).toEqual({
    DatabaseReady: { True: 0, False: 0, Unknown: 0 },
    Ready: { True: 0, False: 0, Unknown: 0 },
  });
});

test('a tenant without a condition counts as Unknown for it, so each type adds up to the tenants', () => {
  const counts = countTenantsByCondition(
    [
      [c('DatabaseReady', 'True'), c('Ready', 'True')],
      [c('DatabaseReady', 'False'), c('Ready', 'False')],
      [], // just created: no status yet
      [c('Ready', 'False')], // refused before any plane ran
    ],
    KNOWN,
  );
  expect(Object.fromEntries(counts.get('Ready') ?? [])).toEqual({ True: 1, False: 2, Unknown: 1 });
  expect(Object.fromEntries(counts.get('DatabaseReady') ?? [])).toEqual({
    True: 1,
    False: 1,
    Unknown: 2,
  });
});

test('a condition type beyond the known ones is counted as seen', () => {
  const counts = countTenantsByCondition([[c('LegacyReady', 'True'), c('Ready', 'True')]], KNOWN);
  expect(Object.fromEntries(counts.get('LegacyReady') ?? [])).toEqual({ True: 1 });
});

test('the gauge reports the counts at scrape time, without stale series', async () => {
  const metrics = new OperatorMetrics();
  metrics.tenantConditionTypes = KNOWN;
  let tenants = [[c('DatabaseReady', 'False'), c('Ready', 'False'), c('Gone', 'True')]];
  metrics.tenantConditions = () => tenants.map((conditions, i) => ({ name: `t${i}`, conditions }));
  const scrape = async () =>
    (await metrics.registry.getSingleMetricAsString('gorten_operator_marketplaces')).split('\n');
  expect(await scrape()).toEqual(
    expect.arrayContaining([
      'gorten_operator_marketplaces{condition="Ready",status="False"} 1',
      'gorten_operator_marketplaces{condition="Ready",status="True"} 0',
      'gorten_operator_marketplaces{condition="Gone",status="True"} 1',
    ]),
  );
  tenants = [[c('DatabaseReady', 'True'), c('Ready', 'True')]];
  const after = await scrape();
  expect(after).toEqual(
    expect.arrayContaining([
      'gorten_operator_marketplaces{condition="Ready",status="False"} 0',
      'gorten_operator_marketplaces{condition="Ready",status="True"} 1',
    ]),
  );
  expect(after.join('\n')).not.toContain('condition="Gone"');
});

test('before the informer has listed the tenants (a standby replica) there are no samples', async () => {
  const metrics = new OperatorMetrics();
  metrics.tenantConditionTypes = KNOWN;
  const text = await metrics.registry.getSingleMetricAsString('gorten_operator_marketplaces');
  expect(text).not.toContain('gorten_operator_marketplaces{');
});

test('a plane observer records each plane’s duration and counts its errors from 0', async () => {
  const metrics = new OperatorMetrics();
  const planes = metrics.planeObserver('marketplace');
  planes.observe('DatabaseReady', 0.02, false);
  planes.observe('MessagingReady', 0.5, true);
  planes.observe('MessagingReady', 0.25, true);
  const errors = (await metrics.planeErrors.get()).values.map((v) => [v.labels.plane, v.value]);
  expect(errors.sort()).toEqual([
    ['DatabaseReady', 0],
    ['MessagingReady', 2],
  ]);
  const counts = (await metrics.planeDuration.get()).values
    .filter((v) => v.metricName === 'gorten_operator_plane_duration_seconds_count')
    .map((v) => [v.labels.controller, v.labels.plane, v.value]);
  expect(counts.sort()).toEqual([
    ['marketplace', 'DatabaseReady', 1],
    ['marketplace', 'MessagingReady', 2],
  ]);
});

test('the readiness of each tenant is a series of its own, so an alert can name it', async () => {
  const metrics = new OperatorMetrics();
  metrics.tenantConditionTypes = KNOWN;
  let tenants = [
    { name: 'shop-a', conditions: [c('Ready', 'True')] },
    { name: 'shop-b', conditions: [c('Ready', 'False')] },
    { name: 'shop-c', conditions: [] },
  ];
  metrics.tenantConditions = () => tenants;
  const scrape = async () =>
    (await metrics.registry.getSingleMetricAsString('gorten_operator_marketplace_ready')).split(
      '\n',
    );
  expect(await scrape()).toEqual(
    expect.arrayContaining([
      'gorten_operator_marketplace_ready{marketplace="shop-a"} 1',
      'gorten_operator_marketplace_ready{marketplace="shop-b"} 0',
      'gorten_operator_marketplace_ready{marketplace="shop-c"} 0',
    ]),
  );
  tenants = [{ name: 'shop-b', conditions: [c('Ready', 'True')] }];
  const after = (await scrape()).join('\n');
  expect(after).toContain('gorten_operator_marketplace_ready{marketplace="shop-b"} 1');
  expect(after).not.toContain('shop-a');
});
