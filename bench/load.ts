// HTTP load for the services benchmark, which runs each load in a process of its own
// (load-process.ts), two ways:
// - maximum throughput: autocannon, closed loop — `connections` requests always in flight;
// - a fixed arrival rate: an open loop — request i starts at i / rate s whether or not
//   earlier ones were answered (at most `connections` at a time on keep-alive sockets,
//   the rest wait for a free one), and its latency counts from that scheduled start, so a
//   slow answer neither delays later requests nor hides its cost (coordinated omission).
// autocannon's own overallRate is not a fixed arrival rate: each connection gets a budget
// per second and spends it back to back at the top of the second, so every second starts
// with a burst of `connections` simultaneous requests and the latency at 25 % load equals
// the latency at full load. It stays available (`autocannonRate`) for comparison.
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';

export interface Target {
  label: string;
  url: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  token?: string;
  /** Requests in flight at most (closed loop: always). */
  connections: number;
}

export interface Sample {
  /** Answers per second of the run. */
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  requests: number;
  /** Requests sent, answered or not (cut off by the end of a closed-loop run). */
  sent: number;
}

const TIMEOUT_S = 30;

function headersOf(target: Target): Record<string, string> {
  return {
    ...(target.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
  };
}

const bodyOf = (target: Target) =>
  target.body === undefined ? undefined : JSON.stringify(target.body);

/** One request; fails unless it is answered 2xx. Returns the parsed answer. */
export async function callOnce(target: Target): Promise<unknown> {
  const method = target.method ?? 'GET';
  const answer = await fetch(target.url, {
    method,
    headers: headersOf(target),
    body: bodyOf(target),
  });
  const text = await answer.text();
  if (!answer.ok)
    throw new Error(`${target.label}: ${method} ${target.url} answered ${answer.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** Nearest-rank percentile of unsorted values. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function sampleOf(
  latencies: number[],
  rps: number,
  counts: Pick<Sample, 'non2xx' | 'errors' | 'sent'>,
): Sample {
  return {
    rps,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
    ...counts,
  };
}

/**
 * autocannon for `seconds`; with `rate`, its overallRate. Latencies are taken from every
 * answer (sub-millisecond, unlike its histogram); its coordinated-omission correction is
 * off, because it assumes an interval of ceil(1 / rate) ms — 1 ms whatever the rate.
 */
export async function autocannonLoad(
  target: Target,
  seconds: number,
  rate?: number,
): Promise<Sample> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? 'GET',
        headers: headersOf(target),
        body: bodyOf(target),
        connections: target.connections,
        duration: seconds,
        timeout: TIMEOUT_S,
        ...(rate === undefined ? {} : { overallRate: rate, ignoreCoordinatedOmission: true }),
      },
      (err: unknown, done: autocannon.Result) => {
        if (err) reject(err instanceof Error ? err : new Error('autocannon failed'));
        else resolve(done);
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });
  return sampleOf(latencies, latencies.length / result.duration, {
    non2xx: result.non2xx,
    errors: result.errors,
    sent: result.requests.sent,
  });
}

/**
 * The open loop: `rate` requests per second for `seconds`, then until all are answered.
 * Lean on purpose, since the generator shares the cores and its pauses count as the
 * service's latency: no promise or closure kept per request for the whole run (a count of
 * those in flight), latencies in one preallocated array — so its heap stays small and its
 * collections short.
 */
export function pacedLoad(target: Target, seconds: number, rate: number): Promise<Sample> {
  const url = new URL(target.url);
  const body = bodyOf(target);
  const options = {
    agent: new Agent({ keepAlive: true, maxSockets: target.connections }),
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: target.method ?? 'GET',
    headers: {
      ...headersOf(target),
      ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
    },
    timeout: TIMEOUT_S * 1000,
  };
  const total = Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  const counts = { non2xx: 0, errors: 0, sent: 0 };
  let answered = 0;
  let inFlight = 0;
  let firstAnswerAt = Infinity;
  let lastAnswerAt = -Infinity;
  let allSent = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const send = (due: number) => {
    counts.sent++;
    inFlight++;
    let over = false;
    /** A request ends once: answered (with its status) or failed. */
    const settle = (status?: number) => {
      if (over) return;
      over = true;
      inFlight--;
      if (status === undefined) counts.errors++;
      else {
        const now = performance.now();
        latencies[answered++] = now - due;
        firstAnswerAt = Math.min(firstAnswerAt, now);
        lastAnswerAt = Math.max(lastAnswerAt, now);
        if (status < 200 || status > 299) counts.non2xx++;
      }
      if (allSent && inFlight === 0) finish();
    };
    const outgoing = request(options, (answer) => {
      answer.resume();
      answer.once('end', () => settle(answer.statusCode ?? 0));
      answer.once('error', () => settle());
    });
    outgoing.once('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.once('error', () => settle());
    outgoing.end(body);
  };

  return (async () => {
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const ahead = due - performance.now();
      if (ahead >= 1) await sleep(ahead);
      send(due);
    }
    allSent = true;
    if (inFlight > 0) await finished;
    options.agent.destroy();
    // Answers per second between the first and the last: the offered rate while the service
    // keeps up, its own pace once a backlog builds.
    const rps =
      lastAnswerAt > firstAnswerAt ? ((answered - 1) * 1000) / (lastAnswerAt - firstAnswerAt) : 0;
    return sampleOf(Array.from(latencies.subarray(0, answered)), rps, counts);
  })();
}
