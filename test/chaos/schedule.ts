// The chaos suite's fault schedule (pure): from one seed, when each fault strikes and how
// long it lasts. The seed is printed with every run; the same seed gives the same
// schedule, so a failing run can be replayed (GORTEN_CHAOS_SEED).

export type Fault =
  | { kind: 'kill'; service: 'checkout' | 'orders' | 'payments'; downMs: number }
  | { kind: 'restart-broker' }
  | { kind: 'pause-database'; pauseMs: number };

export interface ScheduledFault {
  atMs: number;
  fault: Fault;
}

/** mulberry32: a small, well-distributed 32-bit PRNG; `() => [0, 1)`. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface ScheduleOptions {
  /** How long the load runs; faults strike inside it. */
  durationMs: number;
  /** Quiet time between the end of one fault and the next. */
  gapMs: [number, number];
}

const KILLABLE = ['checkout', 'orders', 'payments'] as const;

/**
 * Faults one after another, each after a random gap: process kills, with one database
 * pause (20-40 s) among the first three faults and one broker restart as the fourth or fifth.
 */
export function faultSchedule(seed: number, options: ScheduleOptions): ScheduledFault[] {
  const next = random(seed);
  const between = (low: number, high: number) => Math.round(low + next() * (high - low));
  const schedule: ScheduledFault[] = [];
  const pauseMs = between(20_000, 40_000);
  const pauseAt = between(0, 2);
  const brokerAt = between(3, 4);
  for (let at = between(...options.gapMs); at < options.durationMs;) {
    const fault: Fault =
      schedule.length === pauseAt
        ? { kind: 'pause-database', pauseMs }
        : schedule.length === brokerAt
          ? { kind: 'restart-broker' }
          : {
              kind: 'kill',
              service: KILLABLE[Math.floor(next() * KILLABLE.length)] ?? 'checkout',
              downMs: between(500, 3_000),
            };
    schedule.push({ atMs: at, fault });
    const lasts =
      fault.kind === 'pause-database' ? fault.pauseMs : fault.kind === 'kill' ? fault.downMs : 0;
    at += lasts + between(...options.gapMs);
  }
  return schedule;
}

export function describeFault({ atMs, fault }: ScheduledFault): string {
  const at = `${(atMs / 1000).toFixed(1)} s`;
  switch (fault.kind) {
    case 'kill':
      return `${at}: SIGKILL ${fault.service}, restarted after ${fault.downMs} ms`;
    case 'restart-broker':
      return `${at}: restart RabbitMQ`;
    case 'pause-database':
      return `${at}: SIGSTOP FerretDB for ${(fault.pauseMs / 1000).toFixed(1)} s`;
  }
}
