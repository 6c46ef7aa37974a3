import {
  aggregateReady,
  eventType,
  setCondition,
  transitions,
  type Condition,
} from '../src/runtime/conditions.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

test('a new condition gets the current time and the generation', () => {
  const list = setCondition(
    [],
    { type: 'DatabaseReady', status: 'True', reason: 'Provisioned', message: 'ok' },
    3,
    t0,
  );
  expect(list).toEqual([
    {
      type: 'DatabaseReady',
      status: 'True',
      reason: 'Provisioned',
      message: 'ok',
      observedGeneration: 3,
      lastTransitionTime: t0.toISOString(),
    },
  ]);
});

test('the same status keeps lastTransitionTime; a flip updates it; order is kept', () => {
  let list: Condition[] = [];
  list = setCondition(list, { type: 'A', status: 'True', reason: 'R', message: '' }, 1, t0);
  list = setCondition(list, { type: 'B', status: 'False', reason: 'Down', message: 'x' }, 1, t0);
  const same = setCondition(
    list,
    { type: 'A', status: 'True', reason: 'R2', message: 'new' },
    2,
    t1,
  );
  expect(same[0]).toMatchObject({
    reason: 'R2',
    message: 'new',
    observedGeneration: 2,
    lastTransitionTime: t0.toISOString(),
  });
  const flipped = setCondition(
    same,
    { type: 'B', status: 'True', reason: 'Up', message: '' },
    2,
    t1,
  );
  expect(flipped.map((c) => c.type)).toEqual(['A', 'B']);
  expect(flipped[1]).toMatchObject({ status: 'True', lastTransitionTime: t1.toISOString() });
  expect(transitions(same, flipped).map((c) => c.type)).toEqual(['B']);
});

test('Ready is True only when every plane is True, and names those that are not', () => {
  const planes = ['DatabaseReady', 'MessagingReady'];
  let list = setCondition(
    [],
    { type: 'DatabaseReady', status: 'True', reason: 'Provisioned', message: '' },
    1,
    t0,
  );
  expect(aggregateReady(list, planes)).toMatchObject({
    status: 'Unknown',
    reason: 'Reconciling',
    message: 'MessagingReady: Pending',
  });
  list = setCondition(
    list,
    { type: 'MessagingReady', status: 'False', reason: 'BrokerUnavailable', message: 'refused' },
    1,
    t0,
  );
  expect(aggregateReady(list, planes)).toEqual({
    type: 'Ready',
    status: 'False',
    reason: 'PlanesNotReady',
    message: 'MessagingReady: BrokerUnavailable (refused)',
  });
  list = setCondition(
    list,
    { type: 'MessagingReady', status: 'True', reason: 'Provisioned', message: '' },
    1,
    t0,
  );
  expect(aggregateReady(list, planes)).toMatchObject({ status: 'True', reason: 'AllPlanesReady' });
});

test('a plane that is only rolling out makes Ready False/Progressing with a Normal Event, not a failure', () => {
  const planes = ['DatabaseReady', 'WorkloadsReady'];
  let list = setCondition(
    [],
    { type: 'DatabaseReady', status: 'True', reason: 'Provisioned', message: '' },
    1,
    t0,
  );
  list = setCondition(
    list,
    {
      type: 'WorkloadsReady',
      status: 'False',
      reason: 'RollingOut',
      message: 'checkout 0/1 available',
    },
    1,
    t0,
  );
  const ready = aggregateReady(list, planes);
  expect(ready).toMatchObject({ status: 'False', reason: 'Progressing' });
  expect(eventType(ready)).toBe('Normal');
  expect(eventType({ status: 'False', reason: 'BrokerUnavailable' })).toBe('Warning');
  expect(eventType({ status: 'True', reason: 'Provisioned' })).toBe('Normal');
  // False by the cluster's design, not a failure: no Prometheus Operator, no ServiceMonitor.
  expect(eventType({ status: 'False', reason: 'NoPrometheusOperator' })).toBe('Normal');
});
