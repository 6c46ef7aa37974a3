// Orders by status from a $group's answer (pure): every status has a count, 0 when no
// order has it, and a status the code does not know is left out (the label set stays closed).
import { countsByStatus } from '../src/metrics.js';
import { ORDER_STATUSES } from '../src/store.js';

test('every status is counted, the missing ones as 0, unknown ones left out', () => {
  const counts = countsByStatus([
    { _id: 'paid', n: 3 },
    { _id: 'cancelled', n: 1 },
    { _id: 'lost-in-migration', n: 9 },
  ]);
  expect(counts.map(([labels]) => labels.status)).toEqual([...ORDER_STATUSES]);
  expect(Object.fromEntries(counts.map(([l, n]) => [l.status, n]))).toMatchObject({
    paid: 3,
    cancelled: 1,
    pending: 0,
  });
});
