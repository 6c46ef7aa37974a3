// The Prometheus config testenv writes and how an instant query's answer becomes samples.
import { parse } from 'yaml';
import { platformJobs, prometheusConfig, samplesOf } from '../src/servers/prometheus.js';

test('each job becomes a scrape config with its path, parameters and per-target labels', () => {
  const config = parse(
    prometheusConfig(
      [
        {
          job: 'svc',
          targets: [{ address: '127.0.0.1:1', labels: { service: 'orders' } }],
          honorLabels: true,
        },
        {
          job: 'rabbitmq',
          targets: [{ address: '127.0.0.1:2' }],
          metricsPath: '/metrics/detailed',
          params: { family: ['queue_coarse_metrics'] },
        },
      ],
      1_000,
      ['/rules.yml'],
    ),
  ) as Record<string, unknown>;
  expect(config).toEqual({
    global: { scrape_interval: '1000ms', scrape_timeout: '1000ms', evaluation_interval: '1000ms' },
    rule_files: ['/rules.yml'],
    scrape_configs: [
      {
        job_name: 'svc',
        metrics_path: '/metrics',
        honor_labels: true,
        static_configs: [{ targets: ['127.0.0.1:1'], labels: { service: 'orders' } }],
      },
      {
        job_name: 'rabbitmq',
        metrics_path: '/metrics/detailed',
        params: { family: ['queue_coarse_metrics'] },
        static_configs: [{ targets: ['127.0.0.1:2'], labels: {} }],
      },
    ],
  });
});

test('a job given twice is refused before Prometheus sees it', () => {
  const job = { job: 'svc', targets: [] };
  expect(() => prometheusConfig([job, job], 1_000)).toThrow('scrape job svc is given twice');
});

test('a vector gives its samples, a scalar one unlabelled sample, a range vector an error', () => {
  expect(
    samplesOf({ resultType: 'vector', result: [{ metric: { job: 'a' }, value: [1, '2.5'] }] }, 'x'),
  ).toEqual([{ metric: { job: 'a' }, value: 2.5 }]);
  expect(samplesOf({ resultType: 'scalar', result: [1, 'NaN'] }, 'x')).toEqual([
    { metric: {}, value: NaN },
  ]);
  expect(() => samplesOf({ resultType: 'matrix', result: [] }, 'up[1m]')).toThrow(
    'up[1m]: a matrix is no instant vector',
  );
});

test('the platform’s jobs: the operator, each service labelled, the broker’s per-queue depths', () => {
  const jobs = platformJobs({
    operator: '127.0.0.1:1',
    services: [
      { service: 'orders', marketplace: 'demo', address: '127.0.0.1:2' },
      { service: 'users', address: '127.0.0.1:3' },
    ],
    rabbitmq: '127.0.0.1:4',
  });
  expect(jobs).toEqual([
    { job: 'gorten-operator', targets: [{ address: '127.0.0.1:1' }] },
    {
      job: 'gorten-services',
      honorLabels: true,
      targets: [
        { address: '127.0.0.1:2', labels: { service: 'orders', marketplace: 'demo' } },
        { address: '127.0.0.1:3', labels: { service: 'users' } },
      ],
    },
    {
      job: 'rabbitmq',
      targets: [{ address: '127.0.0.1:4' }],
      metricsPath: '/metrics/detailed',
      params: { family: ['queue_coarse_metrics'] },
    },
  ]);
});
