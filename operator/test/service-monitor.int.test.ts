// Each tenant's ServiceMonitor, on a private cluster (testenv's startPrivateKube), since
// the Prometheus Operator CRDs are cluster-wide and must first be absent, then installed,
// then removed. Without them nothing is written and the operator says so once; with them
// every tenant gets one that the real CRD schema accepts, restored after drift and
// collected with its Marketplace. The data servers are the shared ones.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { eventually, goTool, startPrivateKube, type PrivateKube } from '@gorten/testenv';
import { SERVICE_NAMES } from '../src/api/types.js';
import { Kube, KubeError, type KubeObject } from '../src/clients/kube.js';
import { buildServiceMonitor, SERVICE_MONITOR } from '../src/marketplace/monitoring.js';
import { tenantNames } from '../src/marketplace/names.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import type { OperatorConfig } from '../src/config.js';
import { findCondition } from '../src/runtime/conditions.js';
import { containsDesired } from '../src/runtime/equality.js';
import {
  deleteMarketplaces,
  ensureCrds,
  marketplace,
  readMarketplace,
  testConfig,
  waitForCondition,
  waitForEvent,
} from './support.js';

const SHARD = 'service-monitor';
const run = randomBytes(2).toString('hex');
const [first, second] = [`smon-a-${run}`, `smon-b-${run}`];
const ABSENT = 'serves no ServiceMonitor';
const PRESENT = 'serves ServiceMonitors';
const CRDS = ['servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com'];

let cluster: PrivateKube | undefined;
let admin: Kube | undefined;
let operator: RunningOperator | undefined;
const created: string[] = [];
const logLines: string[] = [];

/** A logger whose lines the test reads (what the operator told its log). */
const capturedLog: Logger = pino(
  { level: 'info' },
  { write: (line: string) => logLines.push(line) },
);
const said = (text: string) =>
  logLines.filter((l) => (JSON.parse(l) as { msg?: string }).msg?.includes(text)).length;

function kube(): Kube {
  if (!admin) throw new Error('the private cluster did not start (see beforeAll)');
  return admin;
}

function config(overrides: Partial<OperatorConfig>): OperatorConfig {
  if (!cluster) throw new Error('the private cluster did not start (see beforeAll)');
  return testConfig(SHARD, { kubeconfig: cluster.kube.kubeconfig, ...overrides });
}

function monitorRef(name: string) {
  const names = tenantNames(name);
  return { ...SERVICE_MONITOR, namespace: names.namespace, name: names.serviceMonitor };
}

async function createMarketplace(name: string): Promise<void> {
  await kube().create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }));
  created.push(name);
}

beforeAll(async () => {
  cluster = await startPrivateKube();
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kube.kubeconfig);
  admin = new Kube(kc);
  await ensureCrds(admin);
  // Rechecked every second: a steady answer must still be said only once.
  operator = await startOperator(config({ serviceMonitorRecheckMs: 1_000 }), capturedLog);
}, 180_000);

afterAll(async () => {
  try {
    // An operator finalizes what is left: the tenants' databases and vhosts are shared.
    operator ??= admin ? await startOperator(config({}), capturedLog) : undefined;
    if (admin) await deleteMarketplaces(admin, created.splice(0));
  } finally {
    await operator?.stop();
    admin?.close();
    await cluster?.stop();
  }
}, 120_000);

describe('tenant ServiceMonitors', () => {
  test('without the Prometheus Operator CRDs nothing is written, ScrapeConfigured is False with a Normal Event, and the operator says so once', async () => {
    await createMarketplace(first);
    await createMarketplace(second);
    for (const name of [first, second]) {
      await waitForCondition(kube(), name, 'ScrapeConfigured', 'False', 'NoPrometheusOperator');
      // Ready does not wait for it: the tenant runs.
      await waitForCondition(kube(), name, 'Ready', 'True');
      await waitForEvent(kube(), name, 'Normal', 'NoPrometheusOperator');
    }
    await sleep(3_000); // three rechecks and a resync of both tenants
    expect(said(ABSENT)).toBe(1);
    expect(said(PRESENT)).toBe(0);
    // The kind is not served at all, so no ServiceMonitor can have been written.
    await expect(kube().request('GET', '/apis/monitoring.coreos.com/v1')).rejects.toMatchObject({
      status: 404,
    });
  });

  test('once the CRDs are installed every tenant gets one within a recheck, which the real schema accepts whole', async () => {
    await cluster?.installCrdFile(goTool('prometheus-crds'));
    for (const name of [first, second]) {
      await waitForCondition(kube(), name, 'ScrapeConfigured', 'True', 'ServiceMonitorApplied');
      await waitForEvent(kube(), name, 'Normal', 'ServiceMonitorApplied');
    }
    expect(said(PRESENT)).toBe(1);

    const mp = await readMarketplace(kube(), first);
    if (!mp) throw new Error(`${first} is gone`);
    const live = await kube().get<KubeObject & { spec: MonitorSpec }>(monitorRef(first));
    expect(live?.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'Marketplace',
        name: first,
        uid: mp.metadata.uid,
        controller: true,
      }),
    ]);
    expect(live?.metadata.labels).toMatchObject({ 'gorten.io/marketplace': first });
    // Nothing the operator wrote was pruned by the schema, and Strict validation (400 on
    // any field the schema does not know) accepts it.
    const desired = buildServiceMonitor(mp, config({}).settings);
    expect(containsDesired(live, desired)).toBe(true);
    await kube().request(
      'PATCH',
      `/apis/monitoring.coreos.com/v1/namespaces/${tenantNames(first).namespace}/servicemonitors/${desired.metadata.name}?fieldManager=strict-check&dryRun=All&fieldValidation=Strict&force=true`,
      desired,
      'application/apply-patch+yaml',
    );

    // It selects every service's Service, on a port they all name.
    const selector = Object.entries(live?.spec.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const services = await kube().list<KubeObject & { spec: { ports: { name: string }[] } }>(
      { apiVersion: 'v1', kind: 'Service', namespace: tenantNames(first).namespace },
      `labelSelector=${encodeURIComponent(selector)}`,
    );
    expect(services.items.map((s) => s.metadata.name).sort()).toEqual([...SERVICE_NAMES].sort());
    const port = live?.spec.endpoints[0]?.port;
    for (const service of services.items)
      expect(service.spec.ports.map((p) => p.name)).toContain(port);
  });

  test('a converged tenant with its ServiceMonitor still resyncs without writes', async () => {
    const op = operator;
    if (!op) throw new Error('no operator');
    for (const name of [first, second]) await waitForCondition(kube(), name, 'Ready', 'True');
    await sleep(2_500); // let any reconcile in flight finish
    const writes = () =>
      op.kube.counts.writes + op.mongo.writes + op.rabbit.writes + (op.redis?.writes ?? 0);
    const reconciles = async () =>
      (await op.metrics.reconcileTotal.get()).values.reduce((n, v) => n + v.value, 0);
    const [writesBefore, reconcilesBefore] = [writes(), await reconciles()];
    await sleep(4_500); // two resync periods
    expect(await reconciles()).toBeGreaterThan(reconcilesBefore);
    expect(writes() - writesBefore).toBe(0);
  });

  test('one deleted or edited by hand is restored within a resync', async () => {
    const ref = monitorRef(first);
    await kube().delete(ref);
    await eventually({ what: 'the deleted ServiceMonitor is back', timeoutMs: 30_000 }, async () =>
      (await kube().get(ref)) ? true : undefined,
    );
    await kube().mergePatch(ref, {
      spec: { endpoints: [{ port: 'elsewhere', path: '/metrics' }] },
    });
    await eventually(
      { what: 'the edited ServiceMonitor is restored', timeoutMs: 30_000 },
      async () => {
        const live = await kube().get<KubeObject & { spec: MonitorSpec }>(ref);
        return live?.spec.endpoints[0]?.port === 'http' ? true : undefined;
      },
    );
  });

  test('deleting the Marketplace removes its ServiceMonitor', async () => {
    await deleteMarketplaces(kube(), [first]);
    created.splice(created.indexOf(first), 1);
    await eventually(
      { what: `${first}'s ServiceMonitor collected`, timeoutMs: 60_000 },
      async () => ((await kube().get(monitorRef(first))) === undefined ? true : undefined),
    );
  });

  test('CRDs removed later are noticed by the next reconcile’s 404, long before a recheck, and said once', async () => {
    // An operator that trusts its answer for 10 minutes: only the 404 can tell it.
    await operator?.stop();
    operator = undefined;
    operator = await startOperator(config({ serviceMonitorRecheckMs: 600_000 }), capturedLog);
    const before = said(ABSENT);
    for (const crd of CRDS) {
      await kube().request(
        'DELETE',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`,
      );
    }
    await eventually({ what: 'the CRDs are gone', timeoutMs: 30_000 }, async () => {
      try {
        await kube().request('GET', '/apis/monitoring.coreos.com/v1');
        return undefined;
      } catch (err) {
        return err instanceof KubeError && err.status === 404 ? true : undefined;
      }
    });
    const mp = await waitForCondition(
      kube(),
      second,
      'ScrapeConfigured',
      'False',
      'NoPrometheusOperator',
    );
    expect(findCondition(mp.status?.conditions, 'Ready')?.status).toBe('True');
    expect(said(ABSENT) - before).toBe(1);
  });
});

interface MonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints: { port: string; path: string }[];
}
