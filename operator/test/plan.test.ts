// The plan runner without servers: a recorder stands in for the Kubernetes API, so each
// test sees the status it would write, the Events, and what the work queue is told; the
// SDK's in-memory exporter shows the span each plane runs in.
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { KubeObject } from '../src/clients/kube.js';
import type { Condition } from '../src/runtime/conditions.js';
import {
  failed,
  PlaneFailure,
  progressing,
  ready,
  refuse,
  report,
  runPlanes,
  withheld,
  type Plane,
  type PlaneOutcome,
} from '../src/runtime/plan.js';
import { captureSpans, childrenOf } from './spans.js';

const exporter = captureSpans();
beforeEach(() => exporter.reset());

const NOW = new Date('2026-01-02T03:04:05Z');
const EARLIER = '2025-12-01T00:00:00.000Z';

interface Status {
  observedGeneration?: number;
  conditions?: Condition[];
  host?: string;
}

function recorder() {
  const patches: { status: Status }[] = [];
  const events: string[] = [];
  return {
    patches,
    events,
    io: {
      kube: {
        mergePatch: (_ref: unknown, patch: unknown) => {
          patches.push(patch as { status: Status });
          return Promise.resolve(undefined);
        },
      },
      events: {
        record: (_about: KubeObject, type: string, reason: string) => {
          events.push(`${type} ${reason}`);
          return Promise.resolve();
        },
      },
      now: () => NOW,
    },
  };
}

function subject(conditions: Condition[] = []) {
  const object: KubeObject & { status?: Status } = {
    apiVersion: 'example.io/v1',
    kind: 'Thing',
    metadata: { name: 'a', generation: 3 },
    status: { observedGeneration: 3, conditions },
  };
  return {
    ref: { apiVersion: 'example.io/v1', kind: 'Thing', name: 'a' },
    object,
    fields: { host: 'a.example.com' },
  };
}

function plane<C extends string>(
  condition: C,
  outcome: PlaneOutcome | Error,
  failureReason = 'Broken',
): Plane<C, { calls: string[] }> {
  return {
    condition,
    converge: (ctx) => {
      ctx.calls.push(condition);
      return outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome);
    },
    failureReason: () => failureReason,
  };
}

const condition = (status: Status, type: string) => status.conditions?.find((c) => c.type === type);

test('every plane runs and sets its own condition; Ready is True when all are', async () => {
  const { io, patches, events } = recorder();
  const calls: string[] = [];
  const result = await runPlanes(
    io,
    subject(),
    [plane('AlphaReady', ready('Done', 'alpha ok')), plane('BetaReady', ready('Done', 'beta ok'))],
    { calls },
  );
  expect(result).toBeUndefined();
  expect(calls).toEqual(['AlphaReady', 'BetaReady']);
  expect(patches).toHaveLength(1);
  const status = patches[0]!.status;
  expect(status).toMatchObject({ host: 'a.example.com', observedGeneration: 3 });
  expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
    ['AlphaReady', 'True', 'Done'],
    ['BetaReady', 'True', 'Done'],
    ['Ready', 'True', 'AllPlanesReady'],
  ]);
  expect(condition(status, 'AlphaReady')).toMatchObject({
    message: 'alpha ok',
    observedGeneration: 3,
    lastTransitionTime: NOW.toISOString(),
  });
  expect(events).toEqual(['Normal Done', 'Normal Done', 'Normal AllPlanesReady']);
});

test('a plane that throws is False with its failure reason; the others still converge; the key is retried', async () => {
  const { io, patches, events } = recorder();
  const run = runPlanes(
    io,
    subject(),
    [
      plane('AlphaReady', new Error('server unreachable'), 'AlphaUnavailable'),
      plane('BetaReady', ready('Done', 'beta ok')),
    ],
    { calls: [] },
  );
  await expect(run).rejects.toThrow(PlaneFailure);
  await expect(run).rejects.toThrow('AlphaReady: AlphaUnavailable');
  const status = patches[0]!.status;
  expect(condition(status, 'AlphaReady')).toMatchObject({
    status: 'False',
    reason: 'AlphaUnavailable',
    message: 'server unreachable',
  });
  expect(condition(status, 'BetaReady')?.status).toBe('True');
  expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'PlanesNotReady' });
  expect(events).toContain('Warning AlphaUnavailable');
});

test('a plane that reports a failure is retried too, naming every failed plane', async () => {
  const { io } = recorder();
  await expect(
    runPlanes(
      io,
      subject(),
      [plane('AlphaReady', failed('NoRoom', 'full')), plane('BetaReady', failed('NoKey', 'gone'))],
      { calls: [] },
    ),
  ).rejects.toThrow('AlphaReady: NoRoom; BetaReady: NoKey');
});

test('work under way is polled after the soonest delay, not retried', async () => {
  const { io, patches } = recorder();
  const result = await runPlanes(
    io,
    subject(),
    [
      plane('AlphaReady', progressing('RollingOut', '1 of 2 updated', 5_000)),
      plane('BetaReady', progressing('RollingOut', 'waiting', 2_000)),
      plane('GammaReady', ready('Done', '')),
    ],
    { calls: [] },
  );
  expect(result).toEqual({ requeueAfterMs: 2_000 });
  expect(condition(patches[0]!.status, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'Progressing',
  });
});

test('a condition False on purpose is neither retried nor polled, and Ready says so', async () => {
  const { io, patches } = recorder();
  const result = await runPlanes(
    io,
    subject(),
    [
      plane('AlphaReady', ready('Done', '')),
      plane('Issued', withheld('Suspended', 'withdrawn while suspended')),
    ],
    { calls: [] },
  );
  expect(result).toBeUndefined();
  expect(condition(patches[0]!.status, 'Issued')).toMatchObject({
    status: 'False',
    reason: 'Suspended',
  });
  expect(condition(patches[0]!.status, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'PlanesNotReady',
  });
});

test('an unchanged result writes nothing and keeps each lastTransitionTime', async () => {
  const converged = (type: string, reason: string, message = ''): Condition => ({
    type,
    status: 'True',
    reason,
    message,
    observedGeneration: 3,
    lastTransitionTime: EARLIER,
  });
  const { io, patches, events } = recorder();
  const same = subject([
    converged('AlphaReady', 'Done'),
    converged('Ready', 'AllPlanesReady', 'every plane is ready'),
  ]);
  same.object.status = { ...same.object.status, host: 'a.example.com' };
  await runPlanes(io, same, [plane('AlphaReady', ready('Done', ''))], { calls: [] });
  expect(patches).toEqual([]);
  expect(events).toEqual([]);

  const renamed = recorder();
  await runPlanes(
    renamed.io,
    subject([converged('AlphaReady', 'Done')]),
    [plane('AlphaReady', ready('Renamed', 'same status'))],
    { calls: [] },
  );
  expect(condition(renamed.patches[0]!.status, 'AlphaReady')).toMatchObject({
    reason: 'Renamed',
    lastTransitionTime: EARLIER,
  });
});

test('report sets only the conditions it is given; Ready still covers every one', async () => {
  const { io, patches } = recorder();
  const before: Condition = {
    type: 'BetaReady',
    status: 'True',
    reason: 'Done',
    message: '',
    observedGeneration: 2,
    lastTransitionTime: EARLIER,
  };
  await expect(
    report(
      io,
      subject([before]),
      ['AlphaReady', 'BetaReady'],
      [['AlphaReady', failed('NoHome', 'nowhere to go')]],
    ),
  ).rejects.toThrow('AlphaReady: NoHome');
  const status = patches[0]!.status;
  expect(condition(status, 'BetaReady')).toEqual(before);
  expect(condition(status, 'Ready')).toMatchObject({
    status: 'False',
    message: 'AlphaReady: NoHome (nowhere to go)',
  });
});

test('a condition the plan does not declare does not compile', async () => {
  const { io } = recorder();
  await expect(
    // @ts-expect-error 'AlphaRedy' is not one of the declared conditions
    report(io, subject(), ['AlphaReady'], [['AlphaRedy', ready('Done', '')]]),
  ).resolves.toBeUndefined();
  // @ts-expect-error a plane declared as AlphaReady cannot report another condition
  const misspelt: Plane<'AlphaReady', { calls: string[] }> = plane('AlphaRedy', ready('Done', ''));
  expect(misspelt.condition).toBe('AlphaRedy');
});

test('a refusal sets Ready False with its reason and a Warning, keeps the planes’ conditions, and is retried', async () => {
  const { io, patches, events } = recorder();
  const earlier: Condition = {
    type: 'AlphaReady',
    status: 'True',
    reason: 'Done',
    message: '',
    observedGeneration: 2,
    lastTransitionTime: EARLIER,
  };
  await expect(
    refuse(io, subject([earlier]), 'NamespaceConflict', 'mp-a is someone else’s'),
  ).rejects.toThrow(PlaneFailure);
  const status = patches[0]!.status;
  expect(condition(status, 'AlphaReady')).toEqual(earlier);
  expect(condition(status, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'NamespaceConflict',
    message: 'mp-a is someone else’s',
    observedGeneration: 3,
  });
  expect(events).toEqual(['Warning NamespaceConflict']);
});

test('a plane’s informational conditions are set, with a Warning when False, and Ready does not wait for them', async () => {
  const { io, patches, events } = recorder();
  const isolated = {
    ...ready('Done', ''),
    informational: [
      { type: 'AlphaIsolated', status: 'False' as const, reason: 'NoWalls', message: 'shared' },
    ],
  };
  await runPlanes(io, subject(), [plane('AlphaReady', isolated)], { calls: [] });
  const status = patches[0]!.status;
  expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
    ['AlphaReady', 'True', 'Done'],
    ['AlphaIsolated', 'False', 'NoWalls'],
    ['Ready', 'True', 'AllPlanesReady'],
  ]);
  expect(events).toContain('Warning NoWalls');
});

test('each plane runs in a child span named by its condition; a failed one is ERROR with its reason', async () => {
  const { io } = recorder();
  const planes = [
    plane('AlphaReady', ready('Done', '')),
    plane('BetaReady', new Error('server unreachable'), 'BetaUnavailable'),
    plane('GammaReady', failed('NoRoom', 'full')),
  ];
  await trace.getTracer('test').startActiveSpan('reconcile Thing', async (parent) =>
    runPlanes(io, subject(), planes, { calls: [] })
      .catch(() => undefined)
      .finally(() => parent.end()),
  );
  const spans = exporter.getFinishedSpans();
  const parent = spans.find((s) => s.name === 'reconcile Thing');
  if (!parent) throw new Error('no parent span');
  const children = childrenOf(spans, parent);
  expect(children.map((s) => s.name).sort()).toEqual(['AlphaReady', 'BetaReady', 'GammaReady']);
  expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
  const byName = (name: string) => children.find((s) => s.name === name);
  expect(byName('AlphaReady')?.status.code).not.toBe(SpanStatusCode.ERROR);
  expect(byName('BetaReady')?.status).toEqual({
    code: SpanStatusCode.ERROR,
    message: 'BetaUnavailable: server unreachable',
  });
  expect(byName('BetaReady')?.events.map((e) => e.name)).toEqual(['exception']);
  expect(byName('GammaReady')?.status.code).toBe(SpanStatusCode.ERROR);
  expect(byName('GammaReady')?.attributes).toMatchObject({
    'gorten.plane.status': 'False',
    'gorten.plane.reason': 'NoRoom',
  });
});

test('the observer is told of every plane that ran, failed or not, and nothing else', async () => {
  const { io } = recorder();
  const seen: [string, boolean][] = [];
  const observed = {
    ...io,
    planes: {
      observe: (name: string, seconds: number, failed: boolean) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        seen.push([name, failed]);
      },
    },
  };
  await expect(
    runPlanes(
      observed,
      subject(),
      [
        plane('AlphaReady', ready('Done', '')),
        plane('BetaReady', new Error('down'), 'BetaUnavailable'),
        plane('GammaReady', progressing('RollingOut', '', 1_000)),
        plane('DeltaReady', failed('NoRoom', 'full')),
      ],
      { calls: [] },
    ),
  ).rejects.toThrow(PlaneFailure);
  expect(seen.sort()).toEqual([
    ['AlphaReady', false],
    ['BetaReady', true],
    ['DeltaReady', true],
    ['GammaReady', false],
  ]);
});
