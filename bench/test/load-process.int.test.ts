// The load generator in its own process (load-process.ts) against a tiny node:http
// server, standing in for a service: a paced load sends and counts exactly rate × seconds
// requests, the probe measures the generator's own pauses, a load that cannot start is a
// clear error — and no generator process is left afterwards, on either path.
import { createServer, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { eventually, killTracked, spawnTracked } from '@gorten/testenv';
import { loadInOwnProcess } from '../load-process.js';

let server: Server;
let url = '';
let received = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    received++;
    response.setHeader('content-type', 'application/json');
    response.end(request.url === '/fails' ? ((response.statusCode = 503), '{}') : '{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = 0;
});

/** Processes `parent` started that run the generator script, from /proc (Linux). */
function generatorsRunning(parent = process.pid): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (ppid === parent && command.includes('bench/load-process.ts')) pids.push(Number(entry));
    } catch {
      // the process ended while being read
    }
  }
  return pids;
}

/** Running (not ended, and not a zombie nobody reaped yet). */
const isAlive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

test('a paced load in its own process sends rate × seconds requests and reports its pauses', async () => {
  const { sample, pauses, pid } = await loadInOwnProcess({
    kind: 'paced',
    target: { label: 'tiny', url: `${url}/ok`, connections: 4 },
    seconds: 1,
    rate: 40,
    probe: true,
  });
  expect(sample).toMatchObject({ requests: 40, sent: 40, non2xx: 0, errors: 0 });
  expect(received).toBe(40);
  expect(sample.p99).toBeGreaterThanOrEqual(sample.p50);
  expect(sample.rps).toBeGreaterThan(0);
  // Measured inside the generator: numbers of its own, not this process's.
  expect(pauses).toEqual({
    loopP99Ms: expect.any(Number) as number,
    loopMaxMs: expect.any(Number) as number,
    gcMaxMs: expect.any(Number) as number,
    gcTotalMs: expect.any(Number) as number,
  });
  expect(pid).not.toBe(process.pid);
  expect(isAlive(pid)).toBe(false);
  expect(generatorsRunning()).toEqual([]);
});

test('answers that are not 2xx are counted, and without the probe there are no pauses', async () => {
  const result = await loadInOwnProcess({
    kind: 'paced',
    target: { label: 'tiny', url: `${url}/fails`, connections: 2 },
    seconds: 0.5,
    rate: 20,
  });
  expect(result.sample).toMatchObject({ requests: 10, sent: 10, non2xx: 10, errors: 0 });
  expect(result.pauses).toBeUndefined();
  expect(generatorsRunning()).toEqual([]);
});

test('the closed loop (autocannon) runs in the generator process too', async () => {
  const { sample } = await loadInOwnProcess({
    kind: 'autocannon',
    target: { label: 'tiny', url: `${url}/ok`, connections: 2 },
    seconds: 1,
  });
  expect(sample.requests).toBeGreaterThan(0);
  expect(sample.non2xx).toBe(0);
  // Requests cut off by the end of the run reach the server without being answered.
  expect(received).toBeGreaterThanOrEqual(sample.requests);
  expect(generatorsRunning()).toEqual([]);
});

test('a load that cannot start is an error naming why, and leaves no generator behind', async () => {
  await expect(
    loadInOwnProcess({
      kind: 'paced',
      target: { label: 'broken', url: 'not a url', connections: 1 },
      seconds: 1,
      rate: 10,
    }),
  ).rejects.toThrow(/load generator: TypeError: Invalid URL/);
  expect(received).toBe(0);
  expect(generatorsRunning()).toEqual([]);
});

test('a generator whose benchmark is killed ends by itself', async () => {
  // A benchmark of its own (a long load in a generator), killed with no chance to clean up.
  const module = pathToFileURL(join(import.meta.dirname, '..', 'load-process.ts')).href;
  const job = {
    kind: 'paced',
    target: { label: 'tiny', url, connections: 1 },
    seconds: 600,
    rate: 5,
  };
  const benchmark = spawnTracked(
    'killed benchmark',
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { loadInOwnProcess } from '${module}'; await loadInOwnProcess(${JSON.stringify(job)});`,
    ],
    { cwd: join(import.meta.dirname, '..', '..'), stdio: 'inherit' },
  );
  try {
    const benchmarkPid = benchmark.pid ?? NaN;
    // Loading: once the server has seen a request, the generator is running the job.
    const [generator] = await eventually(
      { what: 'the generator loading', timeoutMs: 60_000 },
      () => (received > 0 ? generatorsRunning(benchmarkPid) : undefined),
    );
    expect(generator).toBeDefined();
    process.kill(benchmarkPid, 'SIGKILL');
    await eventually({ what: 'the orphaned generator gone', timeoutMs: 30_000 }, () =>
      generator !== undefined && isAlive(generator) ? undefined : true,
    );
  } finally {
    await killTracked(benchmark);
  }
});
