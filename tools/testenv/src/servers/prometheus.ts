// Prometheus from Debian, as a server of our own: our config file, our data folder, a
// loopback port, never the package's /etc/prometheus or its service. It scrapes the jobs
// it is given (tests: the services and broker they started; npm start: the whole stack),
// reloads when they change (POST /-/reload, which answers with the config's errors), and
// answers instant queries through a small typed helper that reports Prometheus's own
// error text.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { http, okBody } from '../http.js';
import { processStart } from '../pids.js';
import { withFreePorts } from '../ports.js';
import { eventually, startServer, stopServer } from '../process.js';
import type { ServerProcess } from '../state.js';
import type { StartContext } from './context.js';
import { ensureDebianPackage } from './debian.js';

const PROMETHEUS = '/usr/bin/prometheus';

/** One scrape job: its targets, and where on them the metrics are. */
export interface ScrapeJob {
  job: string;
  /** `host:port` of each target, with labels of its own (e.g. service, marketplace). */
  targets: { address: string; labels?: Record<string, string> }[];
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Query parameters of the scrape, e.g. `{ family: ['queue_coarse_metrics'] }`. */
  params?: Record<string, string[]>;
  /**
   * The scraped series keep labels of their own that a target label also names (a
   * service's registry labels its series with service and marketplace already), instead
   * of Prometheus renaming theirs to exported_<name>.
   */
  honorLabels?: boolean;
}

export interface PrometheusOptions {
  jobs?: readonly ScrapeJob[];
  /** How often every target is scraped and rules are evaluated (default 1 s, for tests). */
  scrapeIntervalMs?: number;
  /** Rule files to load (alerting or recording rules, Prometheus's own format). */
  ruleFiles?: readonly string[];
  /** Where the config and the TSDB live (npm start keeps its own); else a temporary folder, removed at stop. */
  dataDir?: string;
  /** Where its log goes; else the data folder. */
  logDir?: string;
}

/** A sample of an instant vector (or the value of a scalar, with no labels). */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** A scrape target as Prometheus sees it (GET /api/v1/targets, active ones). */
export interface TargetState {
  job: string;
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface Prometheus {
  url: string;
  readonly processes: readonly ServerProcess[];
  /** Scrapes these jobs from now on (replacing the ones before); throws Prometheus's error for a bad config. */
  configure(jobs: readonly ScrapeJob[]): Promise<void>;
  /** Evaluates `expr` now; throws with Prometheus's error text when it cannot. */
  query(expr: string): Promise<Sample[]>;
  targets(): Promise<TargetState[]>;
  stop(): Promise<void>;
}

/** Prometheus refused a query or a config: its words, and what was asked. */
export class PrometheusError extends Error {
  override name = 'PrometheusError';
}

function duration(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

/** The config file for these jobs (YAML); each target's own labels are kept on its series. */
export function prometheusConfig(
  jobs: readonly ScrapeJob[],
  scrapeIntervalMs: number,
  ruleFiles: readonly string[] = [],
): string {
  const names = new Set<string>();
  for (const { job } of jobs) {
    if (names.has(job)) throw new Error(`scrape job ${job} is given twice`);
    names.add(job);
  }
  return stringify({
    global: {
      scrape_interval: duration(scrapeIntervalMs),
      scrape_timeout: duration(scrapeIntervalMs),
      evaluation_interval: duration(scrapeIntervalMs),
    },
    rule_files: [...ruleFiles],
    scrape_configs: jobs.map((job) => ({
      job_name: job.job,
      metrics_path: job.metricsPath ?? '/metrics',
      ...(job.params ? { params: job.params } : {}),
      ...(job.honorLabels ? { honor_labels: true } : {}),
      static_configs: job.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
    })),
  });
}

/** Where the local stack's processes serve their metrics (`host:port`). */
export interface PlatformTargets {
  operator?: string;
  services: readonly { service: string; marketplace?: string; address: string }[];
  /** The rabbitmq_prometheus listener. */
  rabbitmq?: string;
}

/**
 * The scrape jobs of the platform, named as the alerts and dashboards expect them:
 * gorten-operator, gorten-services (one target per service process, labelled with its
 * service and marketplace) and rabbitmq (per-queue depths, including dead-letter queues).
 */
export function platformJobs(targets: PlatformTargets): ScrapeJob[] {
  return [
    ...(targets.operator
      ? [{ job: 'gorten-operator', targets: [{ address: targets.operator }] }]
      : []),
    {
      job: 'gorten-services',
      honorLabels: true,
      targets: targets.services.map(({ service, marketplace, address }) => ({
        address,
        labels: { service, ...(marketplace ? { marketplace } : {}) },
      })),
    },
    ...(targets.rabbitmq
      ? [
          {
            job: 'rabbitmq',
            targets: [{ address: targets.rabbitmq }],
            metricsPath: '/metrics/detailed',
            params: { family: ['queue_coarse_metrics'] },
          },
        ]
      : []),
  ];
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

async function api<T>(url: string, what: string): Promise<T> {
  const answer = await http(url, { timeoutMs: 10_000 });
  let body: ApiAnswer<T>;
  try {
    body = JSON.parse(answer.body) as ApiAnswer<T>;
  } catch {
    throw new PrometheusError(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  if (body.status !== 'success' || body.data === undefined)
    throw new PrometheusError(
      `${what}: ${body.errorType ?? 'error'}: ${body.error ?? answer.body}`,
    );
  return body.data;
}

type QueryData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: 'scalar'; result: [number, string] }
  | { resultType: 'matrix' | 'string'; result: unknown };

/** An instant query's answer as samples: a vector's, or a scalar as one unlabelled sample. */
export function samplesOf(data: QueryData, expr: string): Sample[] {
  if (data.resultType === 'vector')
    return data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
  throw new PrometheusError(
    `${expr}: a ${data.resultType} is no instant vector (query a function of a range, not the range)`,
  );
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<Prometheus> {
  ensureDebianPackage('Prometheus', PROMETHEUS, 'prometheus');
  const owned = options.dataDir === undefined;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gorten-prometheus-'));
  const logDir = options.logDir ?? dir;
  mkdirSync(join(dir, 'tsdb'), { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  const logFile = join(logDir, 'prometheus.log');
  const interval = options.scrapeIntervalMs ?? 1_000;
  const writeConfig = (jobs: readonly ScrapeJob[]): void =>
    writeFileSync(configFile, prometheusConfig(jobs, interval, options.ruleFiles));
  writeConfig(options.jobs ?? []);

  const processes: ServerProcess[] = [];
  const ctx: StartContext = {
    dataDir: dir,
    persistent: !owned,
    logDir,
    binary: () => PROMETHEUS,
    record: (proc) => processes.push({ ...proc, start: processStart(proc.pid) }),
  };
  let started: { pid: number; url: string };
  try {
    started = await withFreePorts(ctx, ['web'], async (ports, attempt) => {
      writeFileSync(logFile, '');
      const pid = startServer({
        name: 'prometheus',
        command: PROMETHEUS,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${ports.web}`,
          '--web.enable-lifecycle', // POST /-/reload
          '--storage.tsdb.retention.size=512MB',
          '--log.level=warn',
        ],
        logFile,
        cwd: dir,
      });
      attempt.record({ name: 'prometheus', pid, match: configFile });
      const url = `http://127.0.0.1:${ports.web}`;
      await eventually({ what: 'Prometheus /-/ready', timeoutMs: 60_000, pid, logFile }, () =>
        okBody(`${url}/-/ready`),
      );
      return { pid, url };
    });
  } catch (err) {
    for (const proc of processes) await stopServer(proc.pid);
    if (owned) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { url, pid } = started;
  return {
    url,
    processes,
    async configure(jobs) {
      writeConfig(jobs);
      const answer = await http(`${url}/-/reload`, { method: 'POST', timeoutMs: 30_000 });
      if (answer.status !== 200)
        throw new PrometheusError(`reloading ${configFile}: ${answer.body.trim()}`);
    },
    async query(expr) {
      const data = await api<QueryData>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
        expr,
      );
      return samplesOf(data, expr);
    },
    async targets() {
      const data = await api<{
        activeTargets: {
          scrapePool: string;
          labels: Record<string, string>;
          scrapeUrl: string;
          health: TargetState['health'];
          lastError: string;
        }[];
      }>(`${url}/api/v1/targets?state=active`, 'targets');
      return data.activeTargets.map((t) => ({
        job: t.scrapePool,
        labels: t.labels,
        scrapeUrl: t.scrapeUrl,
        health: t.health,
        lastError: t.lastError,
      }));
    },
    async stop() {
      await stopServer(pid);
      if (owned) rmSync(dir, { recursive: true, force: true });
    },
  };
}
