// Pure logic of port choice and of reading /proc/net/tcp addresses.
import { candidateRange, ephemeralRange } from '../src/ports.js';
import { decodeAddress, isLoopback } from '../src/sockets.js';

test('the ephemeral range is read from the kernel, with the IANA range as fallback', () => {
  expect(ephemeralRange(() => '32768\t60999\n')).toEqual([32768, 60999]);
  expect(ephemeralRange(() => 'garbage')).toEqual([49152, 65535]);
  expect(
    ephemeralRange(() => {
      throw new Error('ENOENT');
    }),
  ).toEqual([49152, 65535]);
});

test('ports are drawn from below the ephemeral range, else above it, else not at all', () => {
  expect(candidateRange([32768, 60999])).toEqual([10000, 32767]);
  expect(candidateRange([1024, 50000])).toEqual([50001, 65535]);
  expect(candidateRange([1024, 65000])).toBeUndefined();
});

test('/proc/net/tcp addresses decode to dotted and IPv6 notation', () => {
  expect(decodeAddress('0100007F')).toBe('127.0.0.1');
  expect(decodeAddress('00000000')).toBe('0.0.0.0');
  expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
  expect(decodeAddress('00000000000000000000000000000000')).toBe('::');
  expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('127.0.0.1');
  expect(['127.0.0.1', '127.0.1.1', '::1'].every(isLoopback)).toBe(true);
  expect(['0.0.0.0', '::', '10.0.0.5'].some(isLoopback)).toBe(false);
});
