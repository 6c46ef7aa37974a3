// The operator's environment schema: what it accepts and how it says what is wrong.
import { ConfigError, loadConfig } from '../src/config.js';

const REQUIRED = {
  GORTEN_MONGO_ADMIN_URL: 'mongodb://admin:secret@mongo:27017/?authSource=admin',
  GORTEN_RABBITMQ_MANAGEMENT_URL: 'http://rabbitmq:15672',
  GORTEN_RABBITMQ_ADMIN_USER: 'admin',
  GORTEN_RABBITMQ_ADMIN_PASSWORD: 'secret',
};

test('without a tenant role the operator binds nothing (it runs with broader credentials)', () => {
  expect(loadConfig(REQUIRED).settings.tenantAccess).toBeUndefined();
});

test('a tenant role is bound to the named ServiceAccount of the pod’s namespace', () => {
  const config = loadConfig({
    ...REQUIRED,
    GORTEN_TENANT_ROLE: 'gorten-tenant',
    GORTEN_SERVICE_ACCOUNT: 'gorten',
    POD_NAMESPACE: 'gorten-system',
  });
  expect(config.settings.tenantAccess).toEqual({
    clusterRole: 'gorten-tenant',
    serviceAccount: { namespace: 'gorten-system', name: 'gorten' },
  });
});

test('a tenant role without its ServiceAccount is refused, naming what is missing', () => {
  const load = () => loadConfig({ ...REQUIRED, GORTEN_TENANT_ROLE: 'gorten-tenant' });
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(
    /GORTEN_SERVICE_ACCOUNT: GORTEN_TENANT_ROLE needs GORTEN_SERVICE_ACCOUNT and POD_NAMESPACE/,
  );
});

test('the tenants’ ServiceMonitor labels are key=value pairs; a malformed one is named', () => {
  expect(loadConfig(REQUIRED).settings.tenantMonitorLabels).toEqual({});
  const config = loadConfig({
    ...REQUIRED,
    GORTEN_TENANT_MONITOR_LABELS: 'release=prometheus, example.com/team=shop,empty=',
  });
  expect(config.settings.tenantMonitorLabels).toEqual({
    release: 'prometheus',
    'example.com/team': 'shop',
    empty: '',
  });
  for (const bad of ['release', 'a=b=c', 'bad key=x', 'k=not valid']) {
    const load = () => loadConfig({ ...REQUIRED, GORTEN_TENANT_MONITOR_LABELS: bad });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`GORTEN_TENANT_MONITOR_LABELS: "${bad}" is not a label key=value`);
  }
});

test('tenant routes carry gorten-problem-details only when told; a value not true/false is named', () => {
  expect(loadConfig(REQUIRED).settings.kongProblemDetails).toBe(false);
  const on = loadConfig({ ...REQUIRED, GORTEN_KONG_PROBLEM_DETAILS: 'true' });
  expect(on.settings.kongProblemDetails).toBe(true);
  const load = () => loadConfig({ ...REQUIRED, GORTEN_KONG_PROBLEM_DETAILS: 'yes' });
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/GORTEN_KONG_PROBLEM_DETAILS:/);
});

test('whether the cluster serves ServiceMonitors is asked again every 5 minutes unless told', () => {
  expect(loadConfig(REQUIRED).serviceMonitorRecheckMs).toBe(300_000);
  expect(
    loadConfig({ ...REQUIRED, GORTEN_SERVICE_MONITOR_RECHECK_SECONDS: '30' })
      .serviceMonitorRecheckMs,
  ).toBe(30_000);
});

test('a deleted tenant’s pods are waited for 5 minutes unless told; a value out of 1–3600 is named', () => {
  expect(loadConfig(REQUIRED).settings.tenantStopDeadlineSeconds).toBe(300);
  expect(
    loadConfig({ ...REQUIRED, GORTEN_TENANT_STOP_DEADLINE_SECONDS: '30' }).settings
      .tenantStopDeadlineSeconds,
  ).toBe(30);
  for (const bad of ['0', '3601', '1.5', 'soon']) {
    const load = () => loadConfig({ ...REQUIRED, GORTEN_TENANT_STOP_DEADLINE_SECONDS: bad });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/GORTEN_TENANT_STOP_DEADLINE_SECONDS:/);
  }
});

describe('tracing of the tenants’ services', () => {
  const COLLECTOR = 'http://otel-collector.observability.svc:4318';

  test('off without an endpoint (an empty one included), whatever the ratio', () => {
    expect(loadConfig(REQUIRED).settings.tenantTracing).toBeUndefined();
    const empty = loadConfig({
      ...REQUIRED,
      GORTEN_TENANT_OTLP_ENDPOINT: '',
      GORTEN_TENANT_TRACE_SAMPLE_RATIO: '0.5',
    });
    expect(empty.settings.tenantTracing).toBeUndefined();
  });

  test('an endpoint samples every new trace unless a ratio says otherwise', () => {
    const all = loadConfig({ ...REQUIRED, GORTEN_TENANT_OTLP_ENDPOINT: COLLECTOR });
    expect(all.settings.tenantTracing).toEqual({ otlpEndpoint: COLLECTOR, sampleRatio: 1 });
    const tenth = loadConfig({
      ...REQUIRED,
      GORTEN_TENANT_OTLP_ENDPOINT: COLLECTOR,
      GORTEN_TENANT_TRACE_SAMPLE_RATIO: '0.1',
    });
    expect(tenth.settings.tenantTracing).toEqual({ otlpEndpoint: COLLECTOR, sampleRatio: 0.1 });
  });

  test.each([
    ['grpc://collector:4317', 'must be an http:// or https:// URL'],
    ['collector:4318', 'must be an http:// or https:// URL'],
    ['https://tenant:s3cret@collector:4318', 'must not carry credentials'],
  ])('the endpoint %s is refused, naming the variable and not its value', (endpoint, problem) => {
    const load = () => loadConfig({ ...REQUIRED, GORTEN_TENANT_OTLP_ENDPOINT: endpoint });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`GORTEN_TENANT_OTLP_ENDPOINT: ${problem}`);
    expect(load).not.toThrow(endpoint);
    expect(load).not.toThrow('s3cret');
  });

  test.each(['1.5', '-0.1', 'half'])('the ratio %s is refused, naming the variable', (ratio) => {
    const load = () =>
      loadConfig({
        ...REQUIRED,
        GORTEN_TENANT_OTLP_ENDPOINT: COLLECTOR,
        GORTEN_TENANT_TRACE_SAMPLE_RATIO: ratio,
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow('GORTEN_TENANT_TRACE_SAMPLE_RATIO: must be a number from 0 to 1');
  });
});
