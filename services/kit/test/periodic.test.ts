// Periodic tasks on a fake clock: a run that outlasts its interval is never joined by a
// second one, the next run comes an interval after the last ended, a failing run is
// reported and the task goes on, and stopping waits for the run under way.
import { jest } from '@jest/globals';
import { everyInterval } from '../src/periodic.js';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A task whose runs each wait for `finish()`; it counts runs started and at once. */
function slowTask() {
  const state = { started: 0, running: 0, most: 0, finish: () => {} };
  const run = async () => {
    state.started++;
    state.most = Math.max(state.most, ++state.running);
    await new Promise<void>((resolve) => (state.finish = resolve));
    state.running--;
  };
  return { state, task: { name: 'slow', everyMs: 100, run } };
}

test('a run that outlasts the interval is never joined by another; the next comes after it', async () => {
  const { state, task } = slowTask();
  const schedule = everyInterval(task, () => {});
  await jest.advanceTimersByTimeAsync(100);
  expect(state.started).toBe(1);
  await jest.advanceTimersByTimeAsync(1_000); // ten intervals while the run goes on
  expect(state).toMatchObject({ started: 1, most: 1 });
  state.finish();
  await jest.advanceTimersByTimeAsync(99);
  expect(state.started).toBe(1);
  await jest.advanceTimersByTimeAsync(1);
  expect(state).toMatchObject({ started: 2, most: 1 });
  state.finish();
  await schedule.stop();
});

test('a failing run is reported and the task runs again', async () => {
  const failures: unknown[] = [];
  let runs = 0;
  const schedule = everyInterval(
    {
      name: 'flaky',
      everyMs: 100,
      run: () => (++runs === 1 ? Promise.reject(new Error('down')) : Promise.resolve()),
    },
    (err) => failures.push(err),
  );
  await jest.advanceTimersByTimeAsync(200);
  expect(runs).toBe(2);
  expect(failures).toEqual([new Error('down')]);
  await schedule.stop();
});

test('stop waits for the run under way, and no run starts after it', async () => {
  const { state, task } = slowTask();
  const schedule = everyInterval(task, () => {});
  await jest.advanceTimersByTimeAsync(100);
  let stopped = false;
  const stopping = schedule.stop().then(() => (stopped = true));
  await jest.advanceTimersByTimeAsync(0);
  expect(stopped).toBe(false);
  state.finish();
  await stopping;
  await jest.advanceTimersByTimeAsync(1_000);
  expect(state.started).toBe(1);
});
