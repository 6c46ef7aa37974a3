// Benchmark: services under HTTP load against the real test servers — GET /products and
// POST /auth/token at their maximum throughput and at fixed arrival rates (25, 50, 90 %
// of it); the kit's overhead: a service's GET /healthz (every kit middleware) against
// a bare node:http handler answering the same JSON, as ratios; and tracing's cost: GET
// /products with every request traced into a real Jaeger against tracing off, as ratios;
// the read cache: GET /products and GET /products/{id} of a catalog caching in Redis
// against one without, side by side, as ratios, and the cached ones at 2,000 req/s.
//
//   npm run bench:services -- [--quick] [--runs 3] [--duration 10] [--products 500]
//                             [--log-level warn] [--autocannon-rate] [--kit-baseline REF]
//                             [--probe] [products overhead token tracing cache]
//
// --probe (cache scenario): each row also says how long the service's and the load
// generator process's event loops and garbage collectors paused (pauses.ts), to tell
// whose a tail is.
//
// Each service runs as its own process, started as its main.ts is in a pod, and each load
// in a generator process of its own (load-process.ts), as a load tool would: neither
// shares the other's event loop or heap, nor this process's (tenants, drivers, results);
// they do share the machine's cores. Runs of the things compared alternate; every figure
// is a median of --runs runs. How load is made: load.ts. Tables go to stdout, progress to
// stderr; tenants and processes are gone after.
import { randomBytes, scrypt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { tenantRedisUser, TestTenant, type TenantRedisUser } from '@gorten/service-testing';
import { loadTestEnv, startJaeger, type Jaeger } from '@gorten/testenv';
import { sourcesAt } from './source-variant.js';
import { PAUSES_TAG, type Pauses } from './pauses.js';
import { callOnce, type Sample, type Target } from './load.js';
import { loadInOwnProcess, type LoadResult } from './load-process.js';
import {
  cpuSeconds,
  median,
  peakRssMiB,
  ROOT,
  startHttpChild,
  stopAllChildren,
  waitUntil,
  type HttpChild,
} from './support.js';

const SCENARIOS = ['products', 'overhead', 'token', 'tracing', 'cache'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const { values, positionals } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    duration: { type: 'string' },
    products: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    'autocannon-rate': { type: 'boolean', default: false },
    'kit-baseline': { type: 'string' },
    probe: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const quick = values.quick;
const options = {
  runs: Number(values.runs ?? (quick ? 1 : 3)),
  /** Seconds of each measured run; warm-ups are shorter. */
  duration: Number(values.duration ?? (quick ? 2 : 10)),
  warmup: quick ? 1 : 3,
  products: Number(values.products ?? (quick ? 100 : 500)),
  logLevel: values['log-level'],
  autocannonRate: values['autocannon-rate'],
  /** A git ref whose kit the overhead scenario also measures, in the same run. */
  kitBaseline: values['kit-baseline'],
  /** Pauses of the service's and the generator's event loops and collectors, per run. */
  probe: values.probe,
};
const unknown = positionals.filter((p) => !(SCENARIOS as readonly string[]).includes(p));
if (unknown.length > 0)
  throw new Error(`unknown scenario ${unknown.join(', ')}; there are ${SCENARIOS.join(', ')}`);
const wanted = new Set(positionals.length > 0 ? (positionals as ScenarioName[]) : SCENARIOS);

const RATE_FRACTIONS = [0.25, 0.5, 0.9];
/** The issue's target for a cached read: this rate at p99 ≤ 20 ms on the 2 cores. */
const CACHED_TARGET_RATE = 2_000;
/** A fixed-rate run lasts until about this many answers (at most 6 × --duration). */
const MIN_ANSWERS = 30;
const PASSWORD = 'a long enough secret';
/** log2 N of scrypt: the production default, and a cheap one to show what the KDF costs. */
const KDF_COSTS = [17, 14];

const progress = (line: string) => process.stderr.write(`${line}\n`);
const testEnv = loadTestEnv();
/** FerretDB's CPU time per request says how much of the work is the database's; Redis's, the cache's. */
const ferretdbPid = testEnv.processes.find((p) => p.name === 'ferretdb')?.pid;
const redisPid = testEnv.processes.find((p) => p.name === 'redis')?.pid;

/**
 * No rate: maximum throughput (autocannon, closed loop); a rate: that fixed rate. Each load
 * runs in a generator process of its own (load-process.ts), which with --probe also
 * measures its own pauses; `atStart` runs once it is up, just before the load starts.
 */
function load(
  target: Target,
  seconds: number,
  rate?: number,
  atStart?: () => Promise<void>,
): Promise<LoadResult> {
  const job = { target, seconds, probe: options.probe };
  return loadInOwnProcess(
    rate === undefined || options.autocannonRate
      ? { ...job, kind: 'autocannon', rate }
      : { ...job, kind: 'paced', rate },
    atStart,
  );
}

/**
 * After a run, requests cut off by its end may still be queued in the service (scrypt
 * in the thread pool, queries in the driver pool): one more request waits behind them.
 */
async function settle(target: Target): Promise<void> {
  await callOnce(target);
  await sleep(500);
}

/** autocannon takes whole requests per second; the open loop any rate (logins are slow). */
function rateOf(exact: number): number {
  return options.autocannonRate || exact >= 10
    ? Math.max(1, Math.round(exact))
    : Math.max(0.1, Math.round(exact * 10) / 10);
}

/** A target and the process answering it, whose CPU time is measured. */
interface Measured extends Target {
  pid: number;
  /** The service's log, where it reports its pauses (--probe). */
  log?: string;
  /** Further fixed rates (req/s) this target alone is measured at. */
  fixedRates?: number[];
}

/** A sample with CPU milliseconds per request sent: the service's and FerretDB's. */
interface Run extends Sample {
  cpuMs: number;
  dbCpuMs: number;
  redisCpuMs: number;
  /** With --probe: the service's pauses and the generator process's during the run. */
  pauses?: { service: Pauses; generator: Pauses };
}

/** Asks a service started with pauses.ts for its pauses since it was last asked. */
async function servicePauses(target: Measured): Promise<Pauses | undefined> {
  const { log } = target;
  if (!options.probe || !log) return undefined; // without pauses.ts, SIGUSR2 would end it
  const reports = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith(PAUSES_TAG))
      .map((line) => JSON.parse(line.slice(PAUSES_TAG.length)) as Pauses & { seq: number });
  const before = reports().at(-1)?.seq ?? 0;
  process.kill(target.pid, 'SIGUSR2');
  let report: Pauses | undefined;
  await waitUntil(`pauses of ${target.label}`, 10_000, () => {
    report = reports().find((r) => r.seq > before);
    return Promise.resolve(report !== undefined);
  });
  return report;
}

async function measuredLoad(target: Measured, seconds: number, rate?: number): Promise<Run> {
  const cpu = () => [target.pid, ferretdbPid, redisPid].map((pid) => (pid ? cpuSeconds(pid) : NaN));
  let before: number[] = [];
  // From when the generator is up (its start is not the service's load) to the last answer.
  const { sample, pauses: generator } = await load(target, seconds, rate, async () => {
    before = cpu();
    await servicePauses(target);
  });
  const service = await servicePauses(target);
  await settle(target); // its request is counted, and work cut off by the end gets done
  const [serviceCpu = NaN, db = NaN, redis = NaN] = cpu().map(
    (after, i) => after - (before[i] ?? NaN),
  );
  const perRequest = (cpuS: number) => (cpuS * 1000) / (sample.sent + 1);
  return {
    ...sample,
    cpuMs: perRequest(serviceCpu),
    dbCpuMs: perRequest(db),
    redisCpuMs: perRequest(redis),
    ...(service && generator ? { pauses: { service, generator } } : {}),
  };
}

interface Scenario {
  title: string;
  /** The first is the baseline of a ratio table, when asked for. */
  targets: Measured[];
  fractions: number[];
  /** Fixed rates as fractions of the slowest target's maximum (equal load), not each one's. */
  sharedRate: boolean;
  ratios?: boolean;
}

interface Row {
  target: Measured;
  /** Absent: no rate cap (maximum throughput). */
  fraction?: number;
  rate?: number;
  samples: Run[];
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const med = (row: Row, f: (s: Run) => number) => median(row.samples.map(f));
const total = (row: Row, f: (s: Run) => number) => row.samples.reduce((a, s) => a + f(s), 0);
const loadOf = (row: Row) =>
  row.rate === undefined
    ? 'max'
    : row.fraction === undefined
      ? `${row.rate} (fixed)`
      : `${row.rate} (${Math.round(row.fraction * 100)} %)`;

/** The runs of one row of the table per target, alternating between the targets. */
async function measureRows(
  targets: Measured[],
  rateOfTarget: (t: Measured) => number | undefined,
  fraction?: number,
): Promise<Row[]> {
  const batch: Row[] = targets.map((target) => ({
    target,
    fraction,
    rate: rateOfTarget(target),
    samples: [],
  }));
  for (let run = 1; run <= options.runs; run++) {
    for (const row of batch) {
      const seconds = row.rate
        ? Math.min(6 * options.duration, Math.max(options.duration, MIN_ANSWERS / row.rate))
        : options.duration;
      const s = await measuredLoad(row.target, seconds, row.rate);
      row.samples.push(s);
      const pauses = s.pauses
        ? `; pauses (loop max, GC max ms): service ${s.pauses.service.loopMaxMs.toFixed(1)}, ${s.pauses.service.gcMaxMs.toFixed(1)}, generator ${s.pauses.generator.loopMaxMs.toFixed(1)}, ${s.pauses.generator.gcMaxMs.toFixed(1)}`
        : '';
      progress(
        `  ${row.target.label} @ ${row.rate ?? 'max'}, run ${run}: ${s.rps.toFixed(1)} req/s, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, non-2xx ${s.non2xx}, errors ${s.errors}, CPU ${s.cpuMs.toFixed(3)} + FerretDB ${s.dbCpuMs.toFixed(3)} + Redis ${s.redisCpuMs.toFixed(3)} ms/req${pauses}`,
      );
    }
  }
  return batch;
}

/** Warm-up, maximum throughput, then fixed rates as fractions of the maximum measured. */
async function measure(scenario: Scenario): Promise<Row[]> {
  for (const target of scenario.targets) {
    progress(`${scenario.title} — ${target.label}: warm-up`);
    await callOnce(target);
    await load(target, options.warmup);
    await settle(target);
  }
  const rows = await measureRows(scenario.targets, () => undefined);
  const max = new Map(rows.map((row) => [row.target, med(row, (s) => s.rps)]));
  const slowest = Math.min(...max.values());
  for (const fraction of scenario.fractions) {
    const rateOfTarget = (target: Measured) =>
      rateOf(fraction * (scenario.sharedRate ? slowest : (max.get(target) ?? slowest)));
    rows.push(...(await measureRows(scenario.targets, rateOfTarget, fraction)));
  }
  for (const target of scenario.targets)
    for (const rate of target.fixedRates ?? [])
      rows.push(...(await measureRows([target], () => rate)));
  return rows;
}

function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function report(scenario: Scenario, rows: Row[]): void {
  const of = scenario.sharedRate ? 'of the slowest one’s max' : 'of its max';
  console.log(`\n### ${scenario.title}\n`);
  console.log(`(1-minute load average when done: ${loadavg()[0]?.toFixed(1) ?? '?'})\n`);
  console.log(
    table(
      [
        '',
        `req/s offered (${of})`,
        'req/s',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'errors',
        'answers/run',
        'service CPU ms/req',
        'FerretDB CPU ms/req',
        'Redis CPU ms/req',
      ],
      rows.map((row) => [
        row.target.label,
        loadOf(row),
        fmt(med(row, (s) => s.rps)),
        fmt(med(row, (s) => s.p50)),
        fmt(med(row, (s) => s.p99)),
        String(total(row, (s) => s.non2xx)),
        String(total(row, (s) => s.errors)),
        String(med(row, (s) => s.requests)),
        fmt(med(row, (s) => s.cpuMs)),
        fmt(med(row, (s) => s.dbCpuMs)),
        fmt(med(row, (s) => s.redisCpuMs)),
      ]),
    ),
  );
  const probed = rows.filter((row) => row.samples.every((s) => s.pauses));
  if (probed.length > 0) {
    const pause = (row: Row, f: (p: NonNullable<Run['pauses']>) => number) =>
      fmt(med(row, (s) => (s.pauses ? f(s.pauses) : NaN)));
    console.log(
      '\nPauses during the runs (--probe; ms, medians): a p99 near the service’s loop delay is the service’s, near the generator’s is the generator’s.\n',
    );
    console.log(
      table(
        [
          '',
          'load',
          'p99',
          'service loop p99',
          'service loop max',
          'service GC max',
          'service GC total',
          'generator loop max',
          'generator GC max',
          'generator GC total',
        ],
        probed.map((row) => [
          row.target.label,
          loadOf(row),
          fmt(med(row, (s) => s.p99)),
          pause(row, (p) => p.service.loopP99Ms),
          pause(row, (p) => p.service.loopMaxMs),
          pause(row, (p) => p.service.gcMaxMs),
          pause(row, (p) => p.service.gcTotalMs),
          pause(row, (p) => p.generator.loopMaxMs),
          pause(row, (p) => p.generator.gcMaxMs),
          pause(row, (p) => p.generator.gcTotalMs),
        ]),
      ),
    );
  }
  const peaks = scenario.targets.map((t) => `${t.label} ${peakRssMiB(t.pid).toFixed(0)} MiB`);
  console.log(`\nPeak resident memory of each process: ${peaks.join(', ')}.`);
  const [baseline, ...others] = scenario.targets;
  if (!scenario.ratios || !baseline) return;
  const lines: string[][] = [];
  for (const base of rows.filter((r) => r.target === baseline)) {
    const peers = others.map((t) =>
      rows.find((r) => r.target === t && r.fraction === base.fraction),
    );
    const line = (what: string, f: (s: Run) => number) => [
      `${what} at ${loadOf(base)}`,
      ...peers.map((p) => (p ? (med(p, f) / med(base, f)).toFixed(2) : '—')),
    ];
    if (base.rate === undefined) lines.push(line('req/s', (s) => s.rps));
    lines.push(
      line('p50', (s) => s.p50),
      line('p99', (s) => s.p99),
      line('service CPU per request', (s) => s.cpuMs),
    );
  }
  console.log(`\nRatios of medians to ${baseline.label}:\n`);
  console.log(table([''].concat(others.map((t) => `${t.label} / ${baseline.label}`)), lines));
}

/** One scrypt derivation as the users service makes it (r 8, p 1), in this process. */
function scryptMs(log2N: number): Promise<number> {
  const N = 2 ** log2N;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    scrypt(PASSWORD, randomBytes(16), 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 }, (err) => {
      if (err) reject(err);
      else resolve(performance.now() - started);
    });
  });
}

const tenants: TestTenant[] = [];
const redisUsers: TenantRedisUser[] = [];
const logDir = mkdtempSync(join(tmpdir(), 'gorten-bench-'));

interface Service {
  tenant: TestTenant;
  http: HttpChild;
  log: string;
}

/**
 * A service process on a tenant of its own: FerretDB 1.24 panics on a createIndexes of two
 * or more indexes that exist, which is what a second process of a service sends at start.
 */
/** `kitSources`: run the kit from these sources instead of this checkout's (source-variant.ts). */
async function startService(
  service: 'catalog' | 'users',
  name: string,
  env: Record<string, string> = {},
  kitSources?: string,
): Promise<Service> {
  const tenant = await TestTenant.create('bench');
  tenants.push(tenant);
  const log = join(logDir, `${name.replace(/[^A-Za-z0-9]+/g, '-')}.log`);
  const http = await startHttpChild(
    name,
    `services/${service}/src/main.ts`,
    tenant.serviceEnv(service, {
      LOG_LEVEL: options.logLevel,
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...(service === 'users' ? { JWT_PRIVATE_KEY: tenant.keys.privateKey } : {}),
      ...(kitSources ? { GORTEN_BENCH_SOURCES: kitSources } : {}),
      ...(options.probe ? { GORTEN_BENCH_PAUSES: '1' } : {}),
      ...env,
    }),
    log,
    '/readyz',
    [
      ...(kitSources ? ['bench/source-variant.ts'] : []),
      ...(options.probe ? ['bench/pauses.ts'] : []),
    ],
  );
  return { tenant, http, log };
}

async function seedCatalog({ tenant, http }: Service): Promise<void> {
  const companies = Array.from({ length: 5 }, () => `co_${randomBytes(12).toString('hex')}`);
  await tenant.db.collection('companies').insertMany(
    companies.map((id) => ({
      _id: id as never,
      displayName: `Bench ${id}`,
      contactEmail: 'bench@example.com',
      status: 'active',
      managedBy: 'api',
    })),
  );
  progress(`seeding ${options.products} active products`);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < options.products; i = next++) {
      await callOnce({
        label: 'seed',
        url: `${http.url}/products`,
        method: 'POST',
        token: tenant.token({
          sub: 'usr_bench',
          roles: ['seller'],
          company: companies[i % companies.length] ?? '',
        }),
        body: {
          sku: `BENCH-${i}`,
          name: `Bench product ${i}`,
          price: { amount: 100 + ((i * 7_919) % 100_000), currency: 'EUR' },
          stock: 100,
          status: 'active',
        },
        connections: 1,
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // Product events go out through the outbox and come back to the catalog's own
  // inventory consumer: let that finish, or it would be part of the load measured.
  await waitUntil('product events relayed and applied', 10 * 60_000, async () => {
    const unsent = { 'outbox.id': { $exists: true } };
    const [applied, unsentProducts, unsentInventory] = await Promise.all([
      tenant.db.collection('inventory').countDocuments(),
      tenant.db.collection('products').countDocuments(unsent),
      tenant.db.collection('inventory').countDocuments(unsent),
    ]);
    return applied >= options.products && unsentProducts + unsentInventory === 0;
  });
}

async function productsScenario(): Promise<void> {
  const catalog = await startService('catalog', `catalog (LOG_LEVEL=${options.logLevel})`);
  await seedCatalog(catalog);
  const listing = (query: string): Measured => ({
    label: query,
    url: `${catalog.http.url}/products?${query}`,
    connections: 20,
    pid: catalog.http.pid,
  });
  const scenario: Scenario = {
    title: `GET /products, anonymous, ${options.products} active products (LOG_LEVEL=${options.logLevel})`,
    targets: [listing('limit=20'), listing('sort=price&limit=20')],
    fractions: RATE_FRACTIONS,
    sharedRate: false,
  };
  report(scenario, await measure(scenario));
  await stopAllChildren();
}

/**
 * Two catalogs alike but for the read cache: one without REDIS_URL (every read from
 * FerretDB, as before), one caching in the test environment's Redis as a tenant's ACL
 * user would. Each endpoint is a scenario of its own, the two catalogs side by side, with
 * ratios cached/uncached; the cached targets are also measured at CACHED_TARGET_RATE.
 * Anonymous reads of one listing page and of one product: the hot path a shop front hits.
 */
async function cacheScenario(): Promise<void> {
  const user = await tenantRedisUser(testEnv.redis.url, 'bench');
  redisUsers.push(user);
  const variants: { label: string; env: Record<string, string> }[] = [
    { label: 'uncached', env: {} },
    { label: 'cached', env: { REDIS_URL: user.url, REDIS_KEY_PREFIX: user.prefix } },
  ];
  const catalogs: { label: string; service: Service; productId: string }[] = [];
  for (const variant of variants) {
    const service = await startService('catalog', `catalog (${variant.label})`, variant.env);
    await seedCatalog(service);
    const first = (await callOnce({
      label: 'a product',
      url: `${service.http.url}/products?limit=1`,
      connections: 1,
    })) as { items: { id: string }[] };
    const productId = first.items[0]?.id;
    if (!productId) throw new Error('the seeded catalog lists no product');
    catalogs.push({ label: variant.label, service, productId });
  }
  const endpoints = [
    { title: 'GET /products?limit=20', path: () => '/products?limit=20' },
    { title: 'GET /products/{id}', path: (id: string) => `/products/${id}` },
  ];
  for (const endpoint of endpoints) {
    const targets: Measured[] = catalogs.map(({ label, service, productId }) => ({
      label,
      url: `${service.http.url}${endpoint.path(productId)}`,
      connections: 20,
      pid: service.http.pid,
      log: service.log,
      ...(label === 'cached' ? { fixedRates: [CACHED_TARGET_RATE] } : {}),
    }));
    const scenario: Scenario = {
      title: `Read cache: ${endpoint.title}, anonymous, ${options.products} active products, cached in Redis against uncached (LOG_LEVEL=${options.logLevel})`,
      targets,
      fractions: RATE_FRACTIONS,
      sharedRate: false,
      ratios: true,
    };
    report(scenario, await measure(scenario));
  }
  const cached = catalogs.find((c) => c.label === 'cached');
  const metrics = cached ? await (await fetch(`${cached.service.http.url}/metrics`)).text() : '';
  const outcomes = metrics
    .split('\n')
    .filter((line) => line.startsWith('gorten_cache_requests_total') && !line.endsWith(' 0'));
  console.log(`\nCache outcomes of the cached catalog: ${outcomes.join(', ') || 'none'}.`);
  await stopAllChildren();
}

/**
 * Two catalogs alike but for tracing: off (no collector configured, as by default), and on
 * with every request sampled (always_on, the worst case: no ratio thins it out) and
 * exported over OTLP to a Jaeger of the benchmark's own, which runs on the same cores.
 */
async function tracingScenario(): Promise<void> {
  let jaeger: Jaeger | undefined;
  try {
    jaeger = await startJaeger();
    const variants: { label: string; env: Record<string, string> }[] = [
      { label: 'tracing off', env: {} },
      {
        label: 'tracing on',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_TRACES_SAMPLER: 'always_on' },
      },
    ];
    const targets: Measured[] = [];
    for (const variant of variants) {
      const catalog = await startService('catalog', `catalog (${variant.label})`, variant.env);
      await seedCatalog(catalog);
      targets.push({
        label: variant.label,
        url: `${catalog.http.url}/products?limit=20`,
        connections: 20,
        pid: catalog.http.pid,
      });
    }
    const scenario: Scenario = {
      title: `Tracing: GET /products?limit=20, anonymous, ${options.products} active products, every request traced into Jaeger against tracing off (LOG_LEVEL=${options.logLevel})`,
      targets,
      fractions: RATE_FRACTIONS,
      sharedRate: true,
      ratios: true,
    };
    report(scenario, await measure(scenario));
    // Spans dropped would make tracing look cheaper than it is: say how many were.
    const traced = targets[1];
    const metrics = traced ? await (await fetch(new URL('/metrics', traced.url))).text() : '';
    const dropped = metrics
      .split('\n')
      .filter((line) => line.startsWith('gorten_trace_spans_dropped_total'));
    console.log(`\nSpans dropped by the traced catalog: ${dropped.join(', ') || 'none'}.`);
  } finally {
    await stopAllChildren();
    await jaeger?.stop();
  }
}

async function overheadScenario(): Promise<void> {
  const bare = await startHttpChild(
    'bare node:http',
    'bench/bare-server.ts',
    {},
    join(logDir, 'bare.log'),
    '/',
  );
  const healthz = (label: string, http: HttpChild): Measured => ({
    label,
    url: `${http.url}/healthz`,
    connections: 20,
    pid: http.pid,
  });
  const targets = [healthz('bare', bare)];
  // With --kit-baseline, the kit at that ref too, in the same run, runs alternating.
  const variants: { label: string; sources?: string }[] = [{ label: 'kit' }];
  if (options.kitBaseline)
    variants.push({
      label: `kit at ${options.kitBaseline}`,
      sources: sourcesAt(ROOT, options.kitBaseline, ['kit']),
    });
  for (const level of ['warn', 'info']) {
    for (const variant of variants) {
      const name = `catalog (${variant.label}, LOG_LEVEL=${level})`;
      const kit = await startService('catalog', name, { LOG_LEVEL: level }, variant.sources);
      targets.push(healthz(`${variant.label}, LOG_LEVEL=${level}`, kit.http));
    }
  }
  const scenario: Scenario = {
    title: 'Kit overhead: GET /healthz of the catalog against a bare node:http handler',
    targets,
    fractions: [0.5],
    sharedRate: true,
    ratios: true,
  };
  report(scenario, await measure(scenario));
  await stopAllChildren();
}

async function tokenScenario(): Promise<void> {
  const kdf: string[] = [];
  for (const log2N of KDF_COSTS) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await scryptMs(log2N));
    kdf.push(`log2N ${log2N}: ${median(times).toFixed(0)} ms`);
  }
  const targets: Measured[] = [];
  for (const log2N of KDF_COSTS) {
    const users = await startService('users', `users (log2N ${log2N})`, {
      PASSWORD_SCRYPT_LOG2N: String(log2N),
    });
    // Registered at this cost, so no login rehashes the password.
    const email = `bench-${log2N}@example.com`;
    await callOnce({
      label: 'register',
      url: `${users.http.url}/auth/register`,
      method: 'POST',
      body: { email, password: PASSWORD, name: 'Bench' },
      connections: 1,
    });
    targets.push({
      label: `scrypt log2N ${log2N}${log2N === 17 ? ' (default)' : ''}`,
      url: `${users.http.url}/auth/token`,
      method: 'POST',
      body: { grant_type: 'password', username: email, password: PASSWORD },
      connections: 10,
      pid: users.http.pid,
    });
  }
  const scenario: Scenario = {
    title: `POST /auth/token, password grant (LOG_LEVEL=${options.logLevel})`,
    targets,
    fractions: RATE_FRACTIONS,
    sharedRate: false,
  };
  report(scenario, await measure(scenario));
  console.log(
    `\nOne scrypt derivation alone (r 8, p 1, one at a time, median of 5): ${kdf.join(', ')}.`,
  );
  await stopAllChildren();
}

let cleaning: Promise<void> | undefined;
const interrupted = { bySignal: false };
const cleanUp = () =>
  (cleaning ??= (async () => {
    await stopAllChildren();
    await Promise.all(tenants.map((t) => t.destroy()));
    await Promise.all(redisUsers.map((u) => u.remove()));
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted.bySignal = true;
    progress(`${signal}: stopping the services and removing the tenants`);
    void cleanUp().finally(() => process.exit(130));
  });
}

console.log(
  [
    `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) shared by services, test servers and load generator; load average ${loadavg()[0]?.toFixed(1) ?? '?'}`,
    `Node ${process.version}; ${Object.entries(testEnv.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `medians of ${options.runs} run(s) of ${options.duration} s; max: autocannon, ` +
      `fixed rates: ${options.autocannonRate ? 'autocannon overallRate' : 'open loop (load.ts)'}; ` +
      'each load in a generator process of its own (load-process.ts)',
  ].join('\n'),
);
try {
  if (wanted.has('products')) await productsScenario();
  if (wanted.has('overhead')) await overheadScenario();
  if (wanted.has('token')) await tokenScenario();
  if (wanted.has('tracing')) await tracingScenario();
  if (wanted.has('cache')) await cacheScenario();
  rmSync(logDir, { recursive: true, force: true });
} catch (err) {
  if (!interrupted.bySignal) console.error(err);
  console.error(`service logs kept in ${logDir}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
