// The operator's own telemetry against the real servers: each reconcile of a Marketplace
// or Company is a span with one child per plane (read with the SDK's in-memory
// exporter), and the plane metrics and tenants by condition say which plane of which
// tenant failed — here one tenant whose broker state conflicts, next to a healthy one
// that has a Company. The operator's log lines written in a reconcile name its trace.
import { randomBytes } from 'node:crypto';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { eventually } from '@gorten/testenv';
import type { Company } from '../src/api/types.js';
import { COMPANY_PLANES } from '../src/company/planes.js';
import { PLANES } from '../src/marketplace/reconcile.js';
import { findCondition } from '../src/runtime/conditions.js';
import { createLogger, startOperator, type RunningOperator } from '../src/operator.js';
import { captureSpans, childrenOf } from './spans.js';
import {
  deleteMarketplaces,
  ensureCrds,
  env,
  management,
  marketplace,
  SHARD_LABEL,
  testConfig,
  testKube,
  waitForCondition,
} from './support.js';

const SHARD = 'telemetry';
const run = randomBytes(2).toString('hex');
const healthy = `tel-ok-${run}`;
const broken = `tel-broken-${run}`;
const PLANE_NAMES = PLANES.map((p) => p.condition);
const company = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Company',
  namespace: `mp-${healthy}`,
  name: 'seller',
} as const;
const exporter = captureSpans();
/** The operator's log, parsed: what `createLogger` writes (at info, so the warnings too). */
const logLines: Record<string, unknown>[] = [];
const log = createLogger('info', {
  write: (line: string) => {
    logLines.push(JSON.parse(line) as Record<string, unknown>);
  },
});
const kube = testKube();
let operator: RunningOperator | undefined;

function running(): RunningOperator {
  if (!operator) throw new Error('the operator did not start (see beforeAll)');
  return operator;
}

beforeAll(async () => {
  await ensureCrds(kube);
  // Someone made order_created a classic queue in the broken tenant's vhost: its
  // MessagingReady fails with TopologyConflict on every reconcile, its other planes converge.
  const vhost = `mp-${broken}`;
  await management('PUT', `/vhosts/${vhost}`);
  await management('PUT', `/permissions/${vhost}/${env.rabbitmq.user}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  const queue = await management('PUT', `/queues/${vhost}/order_created`, {
    durable: true,
    arguments: {},
  });
  if (queue.status !== 201)
    throw new Error(`could not declare the conflicting queue: ${queue.status}`);
  operator = await startOperator(testConfig(SHARD), log);
  await kube.create(marketplace(SHARD, healthy, { deletionPolicy: 'Delete' }));
  await kube.create(marketplace(SHARD, broken, { deletionPolicy: 'Delete' }));
  await waitForCondition(kube, healthy, 'Ready', 'True');
  await waitForCondition(kube, broken, 'MessagingReady', 'False', 'TopologyConflict');
  await kube.create({
    apiVersion: company.apiVersion,
    kind: company.kind,
    metadata: {
      name: company.name,
      namespace: company.namespace,
      labels: { [SHARD_LABEL]: SHARD },
    },
    spec: { displayName: 'Seller', contactEmail: 'seller@example.com' },
  });
  await eventually({ what: 'the Company Ready', timeoutMs: 60_000 }, async () => {
    const live = await kube.get<Company>(company);
    return findCondition(live?.status?.conditions, 'Ready')?.status === 'True' ? true : undefined;
  });
});

afterAll(async () => {
  // The Company first, while its namespace and its operator are there.
  await kube.delete(company);
  await eventually({ what: 'the Company deleted', timeoutMs: 30_000 }, async () =>
    (await kube.get(company)) === undefined ? true : undefined,
  );
  await deleteMarketplaces(kube, [healthy, broken]);
  await operator?.stop();
  kube.close();
});

/** The finished `reconcile <kind>` spans of one object that ran its planes. */
function reconcileSpans(name: string, kind = 'Marketplace'): ReadableSpan[] {
  const spans = exporter.getFinishedSpans();
  return spans.filter(
    (s) =>
      s.name === `reconcile ${kind}` &&
      s.attributes['gorten.object.name'] === name &&
      childrenOf(spans, s).length > 0,
  );
}

async function scrape(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${running().port}/metrics`)).text();
}

function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('a reconcile is one `reconcile Marketplace` span with a child per plane, all in one trace', () => {
  const reconciles = reconcileSpans(healthy);
  expect(reconciles.length).toBeGreaterThan(0);
  const spans = exporter.getFinishedSpans();
  for (const reconcile of reconciles) {
    const children = childrenOf(spans, reconcile);
    expect(children.map((s) => s.name).sort()).toEqual([...PLANE_NAMES].sort());
    const traces = new Set([reconcile, ...children].map((s) => s.spanContext().traceId));
    expect(traces.size).toBe(1);
    expect(reconcile.parentSpanContext).toBeUndefined();
    for (const child of children) expect(child.status.code).not.toBe(SpanStatusCode.ERROR);
  }
  const last = reconciles.at(-1);
  expect(last?.attributes).toMatchObject({
    'gorten.object.kind': 'Marketplace',
    'gorten.object.name': healthy,
    'gorten.reconcile.result': 'success',
  });
  expect(last?.status.code).not.toBe(SpanStatusCode.ERROR);
});

test('a Company’s reconcile is a `reconcile Company` span in its namespace with a child per plane', async () => {
  const reconciles = reconcileSpans(company.name, 'Company');
  expect(reconciles.length).toBeGreaterThan(0);
  const spans = exporter.getFinishedSpans();
  for (const reconcile of reconciles) {
    expect(reconcile.attributes['k8s.namespace.name']).toBe(company.namespace);
    const children = childrenOf(spans, reconcile);
    expect(children.map((s) => s.name).sort()).toEqual(
      COMPANY_PLANES.map((p) => p.condition).sort(),
    );
  }
  const metrics = await scrape();
  for (const plane of COMPANY_PLANES.map((p) => p.condition)) {
    const series = `{controller="company",plane="${plane}"}`;
    expect(
      sample(metrics, `gorten_operator_plane_duration_seconds_count${series}`),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, `gorten_operator_plane_errors_total${series}`)).toBe(0);
  }
});

test('a plane that fails is an ERROR span under an ERROR reconcile; its sibling planes are not', () => {
  const reconciles = reconcileSpans(broken);
  expect(reconciles.length).toBeGreaterThan(0);
  const spans = exporter.getFinishedSpans();
  for (const reconcile of reconciles) {
    expect(reconcile.attributes['gorten.reconcile.result']).toBe('error');
    expect(reconcile.status.code).toBe(SpanStatusCode.ERROR);
    const failedPlanes = childrenOf(spans, reconcile)
      .filter((s) => s.status.code === SpanStatusCode.ERROR)
      .map((s) => [s.name, s.attributes['gorten.plane.reason']]);
    expect(failedPlanes).toEqual([['MessagingReady', 'TopologyConflict']]);
  }
});

describe('a log line written in a reconcile carries its trace_id and span_id', () => {
  function spanOf(line: Record<string, unknown> | undefined): ReadableSpan | undefined {
    expect(line).toBeDefined();
    expect(typeof line?.trace_id).toBe('string');
    expect(typeof line?.span_id).toBe('string');
    return exporter
      .getFinishedSpans()
      .find(
        (s) =>
          s.spanContext().traceId === line?.trace_id && s.spanContext().spanId === line.span_id,
      );
  }

  test('in a plane: the plane’s span, in the trace of its `reconcile Marketplace`', () => {
    const line = logLines.find((l) => l.msg === 'database converged' && l.marketplace === healthy);
    const plane = spanOf(line);
    expect(plane?.name).toBe('DatabaseReady');
    const reconcile = reconcileSpans(healthy).find(
      (s) => s.spanContext().spanId === plane?.parentSpanContext?.spanId,
    );
    expect(reconcile?.spanContext().traceId).toBe(line?.trace_id);
  });

  test('a failed reconcile’s warning: the `reconcile Marketplace` span that failed', () => {
    const line = logLines.find(
      (l) => l.msg === 'reconcile failed; retrying with backoff' && l.key === broken,
    );
    const reconcile = spanOf(line);
    expect(reconcile?.name).toBe('reconcile Marketplace');
    expect(reconcile?.attributes).toMatchObject({
      'gorten.object.name': broken,
      'gorten.reconcile.result': 'error',
    });
  });

  test('outside any reconcile: no trace ids', () => {
    const started = logLines.find((l) => l.msg === 'controller started');
    expect(started).toBeDefined();
    expect(started).not.toHaveProperty('trace_id');
    expect(started).not.toHaveProperty('span_id');
  });
});

test('the failing plane counts errors for that plane only; every plane is timed', async () => {
  const metrics = await scrape();
  const errors = (plane: string) =>
    sample(
      metrics,
      `gorten_operator_plane_errors_total{controller="marketplace",plane="${plane}"}`,
    );
  expect(errors('MessagingReady')).toBeGreaterThanOrEqual(1);
  for (const plane of PLANE_NAMES.filter((p) => p !== 'MessagingReady')) {
    expect([plane, errors(plane)]).toEqual([plane, 0]);
  }
  for (const plane of PLANE_NAMES) {
    const timed = sample(
      metrics,
      `gorten_operator_plane_duration_seconds_count{controller="marketplace",plane="${plane}"}`,
    );
    expect([plane, timed]).toEqual([plane, expect.any(Number)]);
    expect(timed).toBeGreaterThanOrEqual(2); // both tenants, at least once each
  }
});

test('tenants by condition count this operator’s two tenants, 0 where none is so', async () => {
  const byCondition = (condition: string, status: string) =>
    sample(metrics, `gorten_operator_marketplaces{condition="${condition}",status="${status}"}`);
  let metrics = '';
  await eventually({ what: 'tenants by condition settle', timeoutMs: 30_000 }, async () => {
    metrics = await scrape();
    return byCondition('Ready', 'True') === 1 ? true : undefined;
  });
  expect({
    ready: [
      byCondition('Ready', 'True'),
      byCondition('Ready', 'False'),
      byCondition('Ready', 'Unknown'),
    ],
    messaging: [byCondition('MessagingReady', 'True'), byCondition('MessagingReady', 'False')],
    database: [byCondition('DatabaseReady', 'True'), byCondition('DatabaseReady', 'False')],
  }).toEqual({ ready: [1, 1, 0], messaging: [1, 1], database: [2, 0] });
  const ready = (name: string) =>
    sample(metrics, `gorten_operator_marketplace_ready{marketplace="${name}"}`);
  expect({ healthy: ready(healthy), broken: ready(broken) }).toEqual({ healthy: 1, broken: 0 });
});
