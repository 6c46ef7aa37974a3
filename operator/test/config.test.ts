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

test('whether the cluster serves ServiceMonitors is asked again every 5 minutes unless told', () => {
  expect(loadConfig(REQUIRED).serviceMonitorRecheckMs).toBe(300_000);
  expect(
    loadConfig({ ...REQUIRED, GORTEN_SERVICE_MONITOR_RECHECK_SECONDS: '30' })
      .serviceMonitorRecheckMs,
  ).toBe(30_000);
});
