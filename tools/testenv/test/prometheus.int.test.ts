// Prometheus as testenv runs it: ready on loopback, scraping the jobs it is given (a
// target of the test's own and the broker's plugin), taking new jobs on a reload, and
// saying in its own words why a query or a config is wrong; stopping it leaves nothing.
import { createServer, type Server } from 'node:http';
import { isAlive } from '../src/pids.js';
import { eventually, loadTestEnv, startPrometheus, type Prometheus } from '../src/index.js';

const env = loadTestEnv();
let prometheus: Prometheus;
let exporter: Server;
let served = 1;

/** A target of our own: one gauge whose value the test sets. */
function address(server: Server): string {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('not listening on TCP');
  return `127.0.0.1:${bound.port}`;
}

beforeAll(async () => {
  exporter = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE probe_value gauge\nprobe_value{kind="test"} ${served}\n`);
  });
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
  prometheus = await startPrometheus({
    jobs: [{ job: 'probe', targets: [{ address: address(exporter), labels: { service: 'x' } }] }],
  });
}, 90_000);
afterAll(async () => {
  await (prometheus as Prometheus | undefined)?.stop();
  exporter.close();
});

test('listens on loopback, scrapes its targets with their labels, and follows their values', async () => {
  expect(new URL(prometheus.url).hostname).toBe('127.0.0.1');
  const first = await eventually({ what: 'probe_value scraped', timeoutMs: 20_000 }, async () => {
    const samples = await prometheus.query('probe_value');
    return samples.length > 0 ? samples : undefined;
  });
  expect(first).toEqual([
    {
      metric: expect.objectContaining({ job: 'probe', service: 'x', kind: 'test' }) as unknown,
      value: 1,
    },
  ]);
  served = 42;
  await eventually({ what: 'probe_value 42', timeoutMs: 20_000 }, async () =>
    (await prometheus.query('probe_value'))[0]?.value === 42 ? true : undefined,
  );
  expect(await prometheus.query('scalar(probe_value) * 2')).toEqual([{ metric: {}, value: 84 }]);
});

test('takes new jobs on a reload: the broker plugin’s detailed endpoint, up like the probe', async () => {
  const broker = new URL(env.rabbitmq.prometheusUrl).host;
  await prometheus.configure([
    { job: 'probe', targets: [{ address: address(exporter) }] },
    {
      job: 'rabbitmq',
      targets: [{ address: broker }],
      metricsPath: '/metrics/detailed',
      params: { family: ['queue_coarse_metrics'] },
    },
  ]);
  // Wait on the targets themselves: `up == 1` still answers from the series of the
  // probe target before the reload (its labels changed, so it is a new target).
  const targets = await eventually({ what: 'both jobs up', timeoutMs: 20_000 }, async () => {
    const now = await prometheus.targets();
    return now.length === 2 && now.every((t) => t.health === 'up') ? now : undefined;
  });
  expect(targets.map((t) => [t.job, t.health, t.scrapeUrl]).sort()).toEqual([
    ['probe', 'up', `http://${address(exporter)}/metrics`],
    ['rabbitmq', 'up', `http://${broker}/metrics/detailed?family=queue_coarse_metrics`],
  ]);
});

test('a bad query or config is refused with Prometheus’s own reason', async () => {
  await expect(prometheus.query('sum(')).rejects.toThrow(/^sum\(: bad_data: .*parse error/);
  await expect(prometheus.query('probe_value[1m]')).rejects.toThrow(/matrix is no instant vector/);
  await expect(
    prometheus.configure([
      { job: 'broken', targets: [{ address: address(exporter), labels: { 'not-a-name': 'x' } }] },
    ]),
  ).rejects.toThrow(/reloading .*prometheus\.yml: .*"not-a-name" is not a valid label name/);
  // The config it had still holds.
  expect((await prometheus.targets()).map((t) => t.job).sort()).toEqual(['probe', 'rabbitmq']);
});

test('stopping it stops its process and removes its data', async () => {
  const second = await startPrometheus();
  const pids = second.processes.map((p) => p.pid);
  expect(pids).toHaveLength(1);
  await second.stop();
  expect(pids.filter(isAlive)).toEqual([]);
});
