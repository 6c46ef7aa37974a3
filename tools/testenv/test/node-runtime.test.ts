// The Node.js floor: read from package.json's engines.node, compared part by part.
import { engineFloor, nodeProblem, requiredNode, satisfies } from '../src/node-runtime.js';

test('the floor is the version in engines.node ">=<version>", and nothing else is accepted', () => {
  expect(engineFloor('>=24.11')).toBe('24.11');
  expect(engineFloor('>= 24')).toBe('24');
  expect(engineFloor('>=24.11.1')).toBe('24.11.1');
  for (const bad of ['^24.11', '24.11', '>=24 <26', '', undefined])
    expect(() => engineFloor(bad)).toThrow('engines.node must read ">=<version>"');
});

test('the repository asks for Node.js 24 LTS or later', () => {
  expect(Number(requiredNode().split('.')[0])).toBeGreaterThanOrEqual(24);
});

test('versions compare numerically, part by part, missing parts counting as 0', () => {
  expect(satisfies('24.11.0', '24.11')).toBe(true);
  expect(satisfies('24.9.0', '24.11')).toBe(false);
  expect(satisfies('24.22.3', '24.11')).toBe(true);
  expect(satisfies('25.0.0', '24.11')).toBe(true);
  expect(satisfies('20.20.2', '24.11')).toBe(false);
  expect(satisfies('24.11.0-pre', '24.11.1')).toBe(false);
  expect(satisfies('24', '24.0.0')).toBe(true);
});

test('an older Node.js gets the line that puts the pinned one first on PATH', () => {
  expect(nodeProblem('24.22.3', '24.11')).toBeUndefined();
  expect(nodeProblem('20.20.2', '24.11')).toBe(
    'Node.js >= 24.11 is needed (this is 20.20.2). Put the pinned Node.js first on PATH ' +
      '(installed into the cache when missing), then run the command again: ' +
      'eval "$(bash tools/node/runtime.sh env)"',
  );
});
