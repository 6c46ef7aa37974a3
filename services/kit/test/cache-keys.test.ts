// The read cache's key space: every key under the tenant's prefix, a key per generation
// and per question (in any key order), a generation read back as stored or absent (a
// fresh one never repeats an earlier number),
// and an entry that keeps when it was filled.
import {
  entryKey,
  fillLockKey,
  generationKey,
  freshGeneration,
  generationValue,
  readEntry,
  storedEntry,
} from '../src/cache-keys.js';

const prefix = 'mp-shop:';

test('every key starts with the prefix', () => {
  const entry = entryKey(prefix, 'listing', [3, 7], { sort: 'price', limit: 20 });
  expect(entry.startsWith(`${prefix}listing:3.7:`)).toBe(true);
  expect(generationKey(prefix, 'catalog:products')).toBe('mp-shop:gen:catalog:products');
  expect(fillLockKey(entry).startsWith(entry)).toBe(true);
});

test('the same question in another key order is the same key; another question, another key', () => {
  const a = entryKey(prefix, 'listing', [1, 1], { sort: 'price', limit: 20, q: 'tea' });
  const b = entryKey(prefix, 'listing', [1, 1], { q: 'tea', limit: 20, sort: 'price' });
  expect(a).toBe(b);
  expect(entryKey(prefix, 'listing', [1, 1], { sort: 'price', limit: 21, q: 'tea' })).not.toBe(a);
  expect(entryKey(prefix, 'product', [1, 1], { sort: 'price', limit: 20, q: 'tea' })).not.toBe(a);
});

test('a bumped generation makes a new key for the same question', () => {
  const asked = 'prd_1';
  expect(entryKey(prefix, 'product', [4], asked)).not.toBe(entryKey(prefix, 'product', [5], asked));
});

test('a long question makes a key of bounded length', () => {
  const key = entryKey(prefix, 'listing', [1, 2], { q: 'x'.repeat(10_000) });
  expect(key.length).toBeLessThan(prefix.length + 60);
});

test('a generation reads as stored, and as absent when missing or not a count', () => {
  expect(generationValue('12')).toBe(12);
  expect(generationValue(null)).toBeUndefined();
  expect(generationValue(undefined)).toBeUndefined();
  expect(generationValue('garbage')).toBeUndefined();
  expect(generationValue('-3')).toBeUndefined();
});

test('a fresh generation is a safe, positive number with room to count up, never the same twice in practice', () => {
  const fresh = Array.from({ length: 1_000 }, freshGeneration);
  expect(new Set(fresh).size).toBe(1_000);
  for (const g of fresh) {
    expect(g).toBeGreaterThan(0);
    expect(Number.isSafeInteger(g + 1_000_000_000)).toBe(true);
  }
});

test('an entry keeps when it was filled and its JSON as it is; anything else is no entry', () => {
  const body = '{"id":"prd_1","note":"a: b","name":"Café ☕ 1:2"}';
  expect(readEntry(storedEntry(1_700_000_000_123.7, body))).toEqual({
    filledAtMs: 1_700_000_000_123,
    body,
  });
  expect(readEntry(body)).toBeNull();
  expect(readEntry(':{}')).toBeNull();
  expect(readEntry('soon:{}')).toBeNull();
  expect(readEntry('12a4:{}')).toBeNull();
  expect(readEntry('')).toBeNull();
});
