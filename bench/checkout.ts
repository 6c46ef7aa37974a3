// Checkout benchmark: POST /checkout at fixed arrival rates (an open loop — request i
// starts at i / rate s whatever happened to earlier ones, and its latency counts from
// then), each by its own buyer with a one-line cart, against the checkout service in a
// child process and the real FerretDB and RabbitMQ. Reports, per rate, the checkouts per
// second achieved, p50/p95/p99 end to end, failures, the CPU seconds FerretDB and the
// service spent per checkout — which shows where the knee comes from —, and the database
// commands FerretDB received per checkout (its serverStatus counters). With --tracing, two
// checkout services alike but for tracing (off; on, every request sampled and exported to
// a Jaeger of the benchmark's own) take turns at each rate, and ratios on/off follow. With
// --baseline REF, the services as they were at git REF (source-variant.ts) take turns with
// this checkout's, and ratios after/before follow.
//
//   npx tsx tools/testenv/src/cli.ts exec -- tsx bench/checkout.ts [--quick]
//     [--rates 3,6,10] [--seconds 4] [--runs 1] [--tracing [--tracing-env 'K=V,...;...']]
//     [--baseline REF] [--cpu-prof DIR] [--alloc-prof DIR] [--kit-ref REF]
//
// --tracing-env: more services, traced like the second but each with its own variables as
// well ('OTEL_BSP_SCHEDULE_DELAY=1000;OTEL_BSP_SCHEDULE_DELAY=5000', say), to compare ways
// of tracing in one run.
//
// --cpu-prof DIR: each checkout service writes a V8 CPU profile into DIR when it stops
// (`npx tsx bench/profile-summary.ts DIR/*.cpuprofile` sums them up by package).
// --kit-ref REF: one more traced service, running the kit's sources at git REF instead of
// this checkout's (bench/source-variant.ts): a change to the kit against what it was, in one run.
//
// --alloc-prof DIR: each writes what it allocated, by where, into DIR when it stops
// (bench/alloc-profile.ts; profile-summary.ts sums .heapprofile files up too).
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyMetrics, newId } from '@gorten/kit';
import { createPaymentModule } from '@gorten/payments/module';
import { createPaymentMethod } from '@gorten/payments/payments';
import { TestTenant } from '@gorten/service-testing';
import { loadTestEnv, startJaeger, type Jaeger, type JaegerTrace } from '@gorten/testenv';
import { Registry } from 'prom-client';
import type { GcTotals } from './gc-stats.js';
import { servicePackagesAt, sourcesAt } from './source-variant.js';
import {
  cpuSeconds,
  cpuSecondsByThread,
  gcTotalsOf,
  median,
  profileChildrenInto,
  ROOT,
  startHttpChild,
  stopAllChildren,
  type HttpChild,
} from './support.js';

/** The value after `--name` on the command line, if given. */
function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
function positiveNumbers(name: string, text: string): number[] {
  const values = text.split(',').map(Number);
  if (values.some((v) => !(v > 0))) throw new Error(`--${name}: positive numbers, got ${text}`);
  return values;
}

const QUICK = process.argv.includes('--quick');
const RATES = positiveNumbers('rates', option('rates') ?? (QUICK ? '2,8' : '1,2,4,6,8,12'));
const SECONDS = positiveNumbers('seconds', option('seconds') ?? (QUICK ? '4' : '10'))[0] ?? 10;
const RUNS = positiveNumbers('runs', option('runs') ?? (QUICK ? '1' : '3'))[0] ?? 3;
const TRACING = process.argv.includes('--tracing');
const CPU_PROFILE_DIR = option('cpu-prof');
const ALLOC_PROFILE_DIR = option('alloc-prof');
const KIT_REF = option('kit-ref');
/** --tracing-env 'K=V,K=V;K=V': more traced services, each with its own variables too. */
const TRACING_ENVS = option('tracing-env')?.split(';') ?? [];
const BASELINE = option('baseline');
/** More than one service measured: the tables name each, and ratios to the first follow. */
const COMPARED = TRACING || BASELINE !== undefined;
if (BASELINE && TRACING) throw new Error('--baseline and --tracing: one comparison per run');
function pairs(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--tracing-env: K=V pairs, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
const CARD = { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' };

interface Run {
  achieved: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
  dbCpuMs: number;
  serviceCpuMs: number;
  dbCommands: number;
  /** Of serviceCpuMs: the main thread's, and V8's helper threads' (GC, compilation). */
  mainCpuMs: number;
  helperCpuMs: number;
  /** Main-thread GC pauses per checkout: scavenges, and the old generation's (all kinds). */
  scavenges: number;
  scavengeMs: number;
  oldGcs: number;
  oldGcMs: number;
  heapUsedMiB: number;
}

/** A connection's own handshake and the counting itself: not the services' work. */
const NOT_WORK = new Set([
  'hello',
  'isMaster',
  'ismaster',
  'saslStart',
  'saslContinue',
  'ping',
  'serverStatus',
  'endSessions',
]);

/**
 * The commands FerretDB has served so far, all databases (its serverStatus counters): the
 * test environment's FerretDB is the benchmark's own unless GORTEN_TESTENV points at one
 * that others use too.
 */
async function commandsServed(tenant: TestTenant): Promise<number> {
  const status = await tenant.mongo.db('admin').command({ serverStatus: 1 });
  const commands = (status.metrics as { commands?: Record<string, { total?: number }> } | undefined)
    ?.commands;
  return Object.entries(commands ?? {})
    .filter(([name]) => !NOT_WORK.has(name))
    .reduce((sum, [, counted]) => sum + (counted.total ?? 0), 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The pid of the test environment's FerretDB, for its CPU time. */
function ferretPid(): number {
  const pid = loadTestEnv().processes.find((p) => p.name === 'ferretdb')?.pid;
  if (!pid) throw new Error('no FerretDB in the test environment');
  return pid;
}

interface Buyer {
  id: string;
  token: string;
  paymentMethod: string;
}

/** A checkout service on a tenant of its own, with products and a way to make buyers. */
interface Setup {
  label: string;
  tenant: TestTenant;
  service: HttpChild;
  /** Where the service writes its GC totals (bench/gc-stats.ts). */
  gcFile: string;
  fillCarts: (count: number) => Promise<Buyer[]>;
}

/**
 * One tenant per service: FerretDB 1.24 panics on a createIndexes of two or more indexes
 * that exist, which is what a second process of a service sends at start.
 */
/** One checkout service to measure: its name in the tables, its variables, its sources. */
interface Variant {
  label: string;
  env: Record<string, string>;
  /** Another commit's services (source-variant.ts) instead of this checkout's. */
  sources?: string;
}

async function setUp(variant: Variant, logDir: string): Promise<Setup> {
  const tenant = await TestTenant.create('bench-checkout');
  try {
    return await setUpOn(tenant, variant, logDir);
  } catch (err) {
    await tenant.destroy();
    throw err;
  }
}

async function setUpOn(
  tenant: TestTenant,
  { label, env, sources }: Variant,
  logDir: string,
): Promise<Setup> {
  const main = 'services/checkout/src/main.ts';
  const gcFile = join(logDir, `gc-${label.replace(/\W+/g, '-')}.json`);
  const service = await startHttpChild(
    `checkout (${label})`,
    sources ? relative(ROOT, join(sources, main)) : main,
    tenant.serviceEnv('checkout', {
      LOG_LEVEL: 'warn',
      SIMULATED_PROVIDER_DELAY_MS: '0',
      PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
      CHECKOUT_LEASE_MS: '60000',
      GORTEN_BENCH_GC_FILE: gcFile,
      ...(ALLOC_PROFILE_DIR
        ? {
            GORTEN_BENCH_ALLOC_PROFILE: join(
              ALLOC_PROFILE_DIR,
              `checkout-${label.replace(/\W+/g, '-')}.heapprofile`,
            ),
          }
        : {}),
      ...env,
      ...(sources ? { GORTEN_BENCH_SOURCES: sources } : {}),
    }),
    join(logDir, `checkout-${label.replace(/\W+/g, '-')}.log`),
    '/readyz',
    [
      'bench/gc-stats.ts',
      ...(ALLOC_PROFILE_DIR ? ['bench/alloc-profile.ts'] : []),
      ...(sources ? ['bench/source-variant.ts'] : []),
    ],
  );
  const company = await tenant.addCompany();
  const products = Array.from({ length: 20 }, () => newId('prd'));
  const now = new Date();
  await tenant.db.collection('products').insertMany(
    products.map((id, i) => ({
      _id: id as never,
      companyId: company,
      sku: `BENCH-${i}`,
      name: `Bench product ${i}`,
      description: '',
      categoryId: null,
      price: { amount: 1_000 + i, currency: 'EUR' },
      stock: 1_000_000,
      status: 'active',
      lowStockThreshold: 0,
      version: 1,
      createdAt: now,
      updatedAt: now,
    })),
  );
  // Buyers tokenize their card before the clock starts, as in a browser.
  const provider = createPaymentModule(
    tenant.db,
    {
      PAYMENT_PROVIDER: 'simulated',
      PAYMENT_PROVIDER_TIMEOUT_MS: 10_000,
      SIMULATED_PROVIDER_DELAY_MS: 0,
    },
    new DependencyMetrics(new Registry()),
  );
  const buyer = async (): Promise<Buyer> => {
    const id = newId('usr');
    return {
      id,
      token: tenant.token({ sub: id, roles: ['buyer'] }, { expiresIn: 3_600 }),
      paymentMethod: (await createPaymentMethod(provider, id, CARD)).id,
    };
  };
  const fillCarts = async (count: number) => {
    // In rounds: the provider's bulkhead takes 96 calls at once and refuses more.
    const buyers: Buyer[] = [];
    while (buyers.length < count)
      buyers.push(
        ...(await Promise.all(Array.from({ length: Math.min(32, count - buyers.length) }, buyer))),
      );
    await tenant.db.collection('carts').insertMany(
      buyers.map((b, i) => ({
        _id: b.id as never,
        items: [{ productId: products[i % products.length], quantity: 1 }],
        lock: null,
        version: 1,
        updatedAt: new Date(),
      })),
    );
    return buyers;
  };
  return { label, tenant, service, gcFile, fillCarts };
}

/** Pauses of the kinds that collect the old generation (incremental marking's steps too). */
function oldGc(totals: GcTotals): { count: number; ms: number } {
  const kinds = ['mark-compact', 'incremental marking'].map((k) => totals.pauses[k]);
  return {
    count: kinds.reduce((sum, k) => sum + (k?.count ?? 0), 0),
    ms: kinds.reduce((sum, k) => sum + (k?.ms ?? 0), 0),
  };
}

async function oneRun({ service, gcFile, fillCarts, tenant }: Setup, rate: number): Promise<Run> {
  const buyers = await fillCarts(Math.round(rate * SECONDS));
  const db = ferretPid();
  const gcBefore = await gcTotalsOf(service, gcFile);
  const threadsBefore = cpuSecondsByThread(service.pid);
  const [dbBefore, svcBefore] = [cpuSeconds(db), cpuSeconds(service.pid)];
  const commandsBefore = await commandsServed(tenant);
  const latencies: number[] = [];
  const answeredAt: number[] = [];
  let failed = 0;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (const [i, b] of buyers.entries()) {
    const due = started + (i * 1000) / rate;
    const ahead = due - performance.now();
    if (ahead >= 1) await sleep(ahead);
    inFlight.push(
      fetch(`${service.url}/checkout`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${b.token}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ paymentMethod: b.paymentMethod }),
      }).then(
        async (answer) => {
          await answer.arrayBuffer();
          const at = performance.now();
          latencies.push(at - due);
          answeredAt.push(at);
          if (answer.status !== 201) failed++;
        },
        () => {
          failed++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const [dbAfter, svcAfter] = [cpuSeconds(db), cpuSeconds(service.pid)];
  const threadsAfter = cpuSecondsByThread(service.pid);
  const gcAfter = await gcTotalsOf(service, gcFile);
  const commands = (await commandsServed(tenant)) - commandsBefore;
  const sorted = latencies.sort((a, b) => a - b);
  const first = answeredAt.sort((a, b) => a - b)[0] ?? 0;
  const last = answeredAt.at(-1) ?? 0;
  const done = buyers.length - failed;
  const per = (value: number) => value / Math.max(1, done);
  const threadMs = (name: string) =>
    per(((threadsAfter[name] ?? 0) - (threadsBefore[name] ?? 0)) * 1000);
  const scavenge = (t: GcTotals) => t.pauses.scavenge ?? { count: 0, ms: 0 };
  return {
    achieved: last > first ? ((answeredAt.length - 1) * 1000) / (last - first) : 0,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    failed,
    dbCpuMs: per((dbAfter - dbBefore) * 1000),
    serviceCpuMs: per((svcAfter - svcBefore) * 1000),
    dbCommands: per(commands),
    mainCpuMs: threadMs('MainThread'),
    helperCpuMs: threadMs('V8Worker'),
    scavenges: per(scavenge(gcAfter).count - scavenge(gcBefore).count),
    scavengeMs: per(scavenge(gcAfter).ms - scavenge(gcBefore).ms),
    oldGcs: per(oldGc(gcAfter).count - oldGc(gcBefore).count),
    oldGcMs: per(oldGc(gcAfter).ms - oldGc(gcBefore).ms),
    heapUsedMiB: gcAfter.heapUsedMiB,
  };
}

/** What one traced checkout exported: its spans, counted by name (most first). */
async function spansOfOneCheckout(jaeger: Jaeger): Promise<string> {
  const traces = await jaeger.query.traces('checkout', { 'http.route': '/checkout' });
  const one: JaegerTrace | undefined = traces[0];
  if (!one) return 'No checkout trace found in Jaeger.';
  const byName = new Map<string, number>();
  for (const span of one.spans)
    byName.set(span.operationName, (byName.get(span.operationName) ?? 0) + 1);
  const counts = [...byName].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ×${n}`);
  return `Spans of one checkout's trace: ${one.spans.length} (${counts.join(', ')}).`;
}

async function main(): Promise<void> {
  const setups: Setup[] = [];
  let jaeger: Jaeger | undefined;
  try {
    const logDir = mkdtempSync(join(tmpdir(), 'gorten-bench-'));
    if (CPU_PROFILE_DIR) profileChildrenInto(CPU_PROFILE_DIR);
    // The first variant is what the others are compared with.
    const variants: Variant[] = [];
    if (BASELINE)
      variants.push(
        {
          label: `before (${BASELINE})`,
          env: {},
          sources: sourcesAt(ROOT, BASELINE, servicePackagesAt(ROOT, BASELINE)),
        },
        { label: 'after', env: {} },
      );
    else variants.push({ label: 'tracing off', env: {} });
    if (TRACING) {
      jaeger = await startJaeger();
      const on = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_TRACES_SAMPLER: 'always_on' };
      variants.push({ label: 'tracing on', env: on });
      for (const more of TRACING_ENVS)
        variants.push({ label: `tracing on, ${more}`, env: { ...on, ...pairs(more) } });
      if (KIT_REF)
        variants.push({
          label: `tracing on, kit at ${KIT_REF}`,
          env: on,
          sources: sourcesAt(ROOT, KIT_REF, ['kit']),
        });
    }
    for (const variant of variants) setups.push(await setUp(variant, logDir));
    for (const setup of setups) await oneRun(setup, 2); // warm-up: connections, JIT, SQLite pages
    const rows: string[] = [];
    const threadRows: string[] = [];
    const ratios: string[] = [];
    const m = (runs: Run[], pick: (run: Run) => number) => median(runs.map(pick));
    for (const rate of RATES) {
      const runs = new Map<Setup, Run[]>(setups.map((s) => [s, []]));
      for (let r = 0; r < RUNS; r++) {
        for (const setup of setups) {
          runs.get(setup)?.push(await oneRun(setup, rate));
          await sleep(1_000); // the outbox relay catches up between runs
        }
      }
      for (const setup of setups) {
        const own = runs.get(setup) ?? [];
        rows.push(
          `| ${COMPARED ? `${setup.label} | ` : ''}${rate} | ${m(own, (r) => r.achieved).toFixed(1)} | ${m(own, (r) => r.p50).toFixed(0)} | ${m(own, (r) => r.p95).toFixed(0)} | ${m(own, (r) => r.p99).toFixed(0)} | ${m(own, (r) => r.failed)} | ${m(own, (r) => r.dbCpuMs).toFixed(1)} | ${m(own, (r) => r.serviceCpuMs).toFixed(1)} | ${m(own, (r) => r.dbCommands).toFixed(1)} |`,
        );
        process.stderr.write(`${rows.at(-1) ?? ''}\n`); // as it comes: overloaded rates take long
        threadRows.push(
          `| ${COMPARED ? `${setup.label} | ` : ''}${rate} | ${m(own, (r) => r.serviceCpuMs).toFixed(1)} | ${m(own, (r) => r.mainCpuMs).toFixed(1)} | ${m(own, (r) => r.helperCpuMs).toFixed(1)} | ${m(own, (r) => r.scavenges).toFixed(2)} | ${m(own, (r) => r.scavengeMs).toFixed(2)} | ${m(own, (r) => r.oldGcs).toFixed(2)} | ${m(own, (r) => r.oldGcMs).toFixed(2)} | ${m(own, (r) => r.heapUsedMiB).toFixed(0)} |`,
        );
      }
      const [first, ...others] = setups;
      for (const setup of first ? others : []) {
        const [base, own] = [runs.get(first as Setup) ?? [], runs.get(setup) ?? []];
        const ratio = (pick: (run: Run) => number) => (m(own, pick) / m(base, pick)).toFixed(2);
        ratios.push(
          `| ${setup.label} | ${rate} | ${ratio((r) => r.achieved)} | ${ratio((r) => r.serviceCpuMs)} | ${ratio((r) => r.mainCpuMs)} | ${ratio((r) => r.helperCpuMs)} | ${ratio((r) => r.dbCpuMs)} | ${ratio((r) => r.dbCommands)} | ${ratio((r) => r.p50)} | ${ratio((r) => r.p99)} |`,
        );
      }
    }
    process.stdout.write(
      [
        `Checkout, ${SECONDS} s per run, median of ${RUNS} runs per rate (2 cores shared by FerretDB, RabbitMQ, the service${TRACING ? 's, Jaeger' : ''} and the load generator)`,
        '',
        `| ${COMPARED ? 'variant | ' : ''}offered /s | achieved /s | p50 ms | p95 ms | p99 ms | failed | FerretDB CPU ms per checkout | service CPU ms per checkout | database commands per checkout |`,
        `|${COMPARED ? '---|' : ''}---|---|---|---|---|---|---|---|---|`,
        ...rows,
        '',
        "The service's CPU per checkout by thread (V8 helpers: concurrent marking, parallel scavenges, compilation), and its main thread's GC pauses per checkout:",
        '',
        `| ${COMPARED ? 'variant | ' : ''}offered /s | service CPU ms | main thread ms | V8 helpers ms | scavenges | scavenge ms | old-generation GCs | old-generation GC ms | heap used MiB at end |`,
        `|${COMPARED ? '---|' : ''}---|---|---|---|---|---|---|---|---|`,
        ...threadRows,
        '',
        ...(COMPARED
          ? [
              `Ratios of medians to ${setups[0]?.label ?? ''}:`,
              '',
              '| variant | offered /s | achieved | service CPU per checkout | main thread | V8 helpers | FerretDB CPU per checkout | database commands per checkout | p50 | p99 |',
              '|---|---|---|---|---|---|---|---|---|---|',
              ...ratios,
              '',
            ]
          : []),
        ...(jaeger ? [await spansOfOneCheckout(jaeger), ''] : []),
      ].join('\n'),
    );
  } finally {
    await stopAllChildren();
    await jaeger?.stop();
    await Promise.all(setups.map((s) => s.tenant.destroy()));
  }
}

await main();
