import { containsDesired, deepEqual } from '../src/runtime/equality.js';

test('fields the server added do not count as differences', () => {
  const live = {
    metadata: { name: 'a', uid: 'u', resourceVersion: '7' },
    spec: { hard: { pods: '60' } },
    status: { used: {} },
  };
  expect(containsDesired(live, { metadata: { name: 'a' }, spec: { hard: { pods: '60' } } })).toBe(
    true,
  );
});

test('a changed, missing or retyped field we set is a difference', () => {
  const live = { spec: { hard: { pods: '1000' } }, list: [{ a: 1 }, { a: 2 }] };
  expect(containsDesired(live, { spec: { hard: { pods: '60' } } })).toBe(false);
  expect(containsDesired(live, { spec: { hard: { cpu: '8' } } })).toBe(false);
  expect(containsDesired(live, { spec: { hard: { pods: 1000 } } })).toBe(false);
  expect(containsDesired(live, { list: [{ a: 1 }] })).toBe(false);
  expect(containsDesired(live, { list: [{ a: 1 }, { a: 2 }] })).toBe(true);
  expect(containsDesired(undefined, { a: 1 })).toBe(false);
});

test('deepEqual ignores key order but not extra keys', () => {
  expect(deepEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
  expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
});
