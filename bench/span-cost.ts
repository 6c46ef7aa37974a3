// What tracing itself costs per checkout: the spans of one checkout (a SERVER span, one
// around the work, 47 MongoDB operations through the kit's traced database: 49, a checkout
// has 60) made and exported over OTLP to a real Jaeger, against the same calls untraced,
// in CPU time of the whole process (all its threads: V8's GC helpers too).
// By default the collection answers at once and checkouts come in bursts (20, then 25 ms),
// so the CPU measured is tracing's own: the SDK, the OTLP encoding, the export's HTTP and
// the kit's wrappers. The options make it step by step more like a service, to find why
// tracing costs a service several times that (bench/README.md, "Fourth round"):
//
//   npm run bench:span-cost -- [--rounds 6] [--checkouts 400] [--sampler always_off]
//     [--rate 8] [--heap 60] [--garbage 1500] [--tracing-env 'K=V,...']
//
// --sampler always_off: tracing on but nothing sampled — what the kit's wrappers cost alone.
// --rate N: N checkouts a second, one after the other, as a service gets them (spans then
//   wait in the export queue for a batch, as they do there).
// --heap MiB: a live heap of that size (small objects, as a service's), kept throughout.
// --garbage KiB: short-lived objects allocated per checkout, spread over its operations
//   (a service allocates for requests, BSON, validation…): the GC runs as often as there.
// --tracing-env: OTEL_* variables for the traced side (OTEL_BSP_SCHEDULE_DELAY=200, say).
//   (or `node --cpu-prof --import tsx bench/span-cost.ts`, for profile-summary.ts)
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { context, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { inSpan, startTracing } from '@gorten/kit';
import { tracedDb } from '@gorten/kit/mongo-tracing';
import { startJaeger } from '@gorten/testenv';
import type { Db } from 'mongodb';
import { cpuSecondsByThread, median } from './support.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    checkouts: { type: 'string', default: '400' },
    sampler: { type: 'string', default: 'always_on' },
    rate: { type: 'string' },
    heap: { type: 'string', default: '0' },
    garbage: { type: 'string', default: '0' },
    'tracing-env': { type: 'string', default: '' },
  },
});
const ROUNDS = Number(values.rounds);
const CHECKOUTS = Number(values.checkouts);
const RATE = values.rate === undefined ? undefined : Number(values.rate);
const HEAP_MIB = Number(values.heap);
const GARBAGE_KIB = Number(values.garbage);
if (!(ROUNDS > 0 && CHECKOUTS > 0)) throw new Error('--rounds and --checkouts: positive numbers');
if (RATE !== undefined && !(RATE > 0)) throw new Error('--rate: a positive number');
if (!(HEAP_MIB >= 0 && GARBAGE_KIB >= 0)) throw new Error('--heap, --garbage: numbers ≥ 0');
const TRACING_ENV = Object.fromEntries(
  values['tracing-env']
    .split(',')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--tracing-env: K=V pairs, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
);

/** About 100 bytes each on V8's heap: a small object with a short string, as documents hold. */
const smallObject = (i: number) => ({ id: i, name: `item-${i}`, at: i * 2 });
const SMALL_OBJECT_BYTES = 100;

/** A service's long-lived state (caches, modules, connections): kept until the end. */
const liveHeap: unknown[] = Array.from(
  { length: Math.round((HEAP_MIB * 2 ** 20) / SMALL_OBJECT_BYTES) },
  (_, i) => smallObject(i),
);

const OPERATIONS = 19 * 2 + 9;
const garbagePerOperation = Math.round((GARBAGE_KIB * 1024) / OPERATIONS / SMALL_OBJECT_BYTES);
/** What one operation's request and reply allocate in a service, dropped right after. */
const recent: { garbage?: unknown } = {};
function allocate(): void {
  if (garbagePerOperation === 0) return;
  const objects = new Array<unknown>(garbagePerOperation);
  for (let i = 0; i < garbagePerOperation; i++) objects[i] = smallObject(i);
  recent.garbage = objects;
}

/** A cursor and a collection that answer at once: only the tracing around them costs. */
class InstantCursor {
  sort(): this {
    return this;
  }
  limit(): this {
    return this;
  }
  toArray(): Promise<unknown[]> {
    allocate();
    return Promise.resolve([]);
  }
}
const instant = {
  findOne: () => {
    allocate();
    return Promise.resolve(null);
  },
  updateOne: () => {
    allocate();
    return Promise.resolve({ modifiedCount: 1 });
  },
  find: () => new InstantCursor(),
};
type Things = typeof instant;

const jaeger = await startJaeger();
const tracing = startTracing({
  service: 'span-cost',
  env: {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
    OTEL_TRACES_SAMPLER: values.sampler,
    ...TRACING_ENV,
  },
});
try {
  const instantDb = { databaseName: 'mp_bench', collection: () => instant } as unknown as Db;
  const things = tracedDb(instantDb, tracing, { host: '127.0.0.1', port: 27017 }).collection(
    'things',
  ) as unknown as Things;

  const steps = async (c: Things) => {
    for (let step = 0; step < 19; step++) {
      await c.findOne();
      await c.updateOne();
      if (step % 2) await c.find().sort().limit().toArray();
    }
  };
  const traced = async () => {
    const request = tracing.tracer.startSpan(
      'POST /checkout',
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'POST', 'url.path': '/checkout' },
      },
      tracing.bind(ROOT_CONTEXT),
    );
    const { tracer } = tracing;
    await context.with(tracing.bind(ROOT_CONTEXT), () =>
      inSpan(tracer, 'checkout', () => steps(things)),
    );
    request.end();
  };
  const untraced = () => steps(instant);

  /** CPU ms of this process so far: all threads (µs), and of them V8's helpers (10 ms ticks). */
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return {
      all: (user + system) / 1000,
      helpers: (cpuSecondsByThread(process.pid).V8Worker ?? 0) * 1000,
    };
  };
  const paced = async (checkout: () => Promise<void>) => {
    const before = cpuMs();
    const started = performance.now();
    for (let i = 0; i < CHECKOUTS; i++) {
      await checkout();
      if (RATE !== undefined) {
        const ahead = started + ((i + 1) * 1000) / RATE - performance.now();
        if (ahead >= 1) await sleep(ahead);
      } else if (i % 20 === 19) await sleep(25);
    }
    await tracing.flush(); // the round's last spans are exported in it, not in the next
    const after = cpuMs();
    return {
      all: (after.all - before.all) / CHECKOUTS,
      helpers: (after.helpers - before.helpers) / CHECKOUTS,
    };
  };
  await paced(traced); // warm-up: JIT, the exporter's connection
  const on: { all: number; helpers: number }[] = [];
  const off: { all: number; helpers: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    on.push(await paced(traced));
    off.push(await paced(untraced));
  }
  const spans = 2 + OPERATIONS;
  const [onAll, offAll] = [median(on.map((c) => c.all)), median(off.map((c) => c.all))];
  const [onHelpers, offHelpers] = [
    median(on.map((c) => c.helpers)),
    median(off.map((c) => c.helpers)),
  ];
  const how = [
    values.sampler,
    RATE === undefined ? 'in bursts' : `${RATE}/s`,
    `live heap ${HEAP_MIB} MiB`,
    `${GARBAGE_KIB} KiB garbage per checkout`,
    ...Object.entries(TRACING_ENV).map(([k, v]) => `${k}=${v}`),
  ].join(', ');
  process.stdout.write(
    `Tracing's own CPU per checkout of ${spans} spans, ${how} (median of ${ROUNDS} rounds of ${CHECKOUTS}): ` +
      `${(onAll - offAll).toFixed(3)} ms traced (${onAll.toFixed(3)} − ${offAll.toFixed(3)} untraced), ` +
      `${((1000 * (onAll - offAll)) / spans).toFixed(1)} µs a span; ` +
      `of it V8's helper threads ${(onHelpers - offHelpers).toFixed(3)} ms\n`,
  );
} finally {
  await tracing.shutdown();
  await jaeger.stop();
  liveHeap.length = 0;
  recent.garbage = undefined;
}
