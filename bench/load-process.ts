// The load generator in a process of its own, as a real load tool runs: one load of
// load.ts (the open loop, or autocannon) per process, the Sample — and, with `probe`, the
// pauses of its own event loop and collector during the load (pauses.ts) — sent back over
// the IPC channel. Its heap holds that one load and nothing of the benchmark's (tenants,
// drivers, results), so its collections stay short. `loadInOwnProcess` is the
// benchmark's side; this file run as a script is the generator's.
import type { ChildProcess } from 'node:child_process';
import { autocannonLoad, pacedLoad, type Sample, type Target } from './load.js';
import { pauseMeter, type Pauses } from './pauses.js';
import { nodeFlagsOf, spawnTsChild, stopChild } from './support.js';

/** paced: the open loop at `rate` req/s; autocannon: closed loop, `rate` its overallRate. */
export type LoadJob = { target: Target; seconds: number; probe?: boolean } & (
  { kind: 'paced'; rate: number } | { kind: 'autocannon'; rate?: number }
);

export interface LoadResult {
  sample: Sample;
  /** With `probe`: the generator process's own pauses during the load. */
  pauses?: Pauses;
  /** The generator's process id; it has exited by the time the result is returned. */
  pid: number;
}

/** What the generator sends: first that it listens, then one answer. */
type Message = 'ready' | { sample: Sample; pauses?: Pauses } | { error: string };

const SCRIPT = 'bench/load-process.ts';
let started = 0;

/** How long a generator that has answered gets to exit by itself before it is stopped. */
const EXIT_GRACE_MS = 5_000;

/**
 * Runs `job` in a new generator process and returns its result once the process has
 * exited; it is stopped on every path (and by `stopAllChildren`, if the benchmark is
 * interrupted meanwhile), and ends by itself if the benchmark goes away.
 * `atStart` runs once the generator is up, just before it is sent the job: what measures
 * the load (CPU times, pauses) starts there, not counting the generator's own start.
 * GORTEN_BENCH_LOAD_NODE_FLAGS: Node flags for the generator only (GORTEN_BENCH_NODE_FLAGS
 * are the services').
 */
export async function loadInOwnProcess(
  job: LoadJob,
  atStart?: () => Promise<void>,
): Promise<LoadResult> {
  const child = spawnTsChild(`load generator ${String(++started)}`, SCRIPT, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    nodeFlags: ['--expose-gc', ...nodeFlagsOf(process.env.GORTEN_BENCH_LOAD_NODE_FLAGS)],
  });
  try {
    const answer = await answerOf(child, job, atStart);
    if ('error' in answer) throw new Error(`load generator: ${answer.error}`);
    return { ...answer, pid: child.pid ?? NaN };
  } finally {
    await stopChild(child);
  }
}

/** Sends `job` once the generator listens; its answer once it has exited, or why there is none. */
function answerOf(
  child: ChildProcess,
  job: LoadJob,
  atStart?: () => Promise<void>,
): Promise<Exclude<Message, 'ready'>> {
  return new Promise((resolve, reject) => {
    let answer: Exclude<Message, 'ready'> | undefined;
    let lingering: NodeJS.Timeout | undefined;
    child.on('message', (message: Message) => {
      if (message === 'ready')
        void (atStart ?? (() => Promise.resolve()))().then(() => child.send(job), reject);
      else {
        answer = message;
        lingering = setTimeout(() => void stopChild(child), EXIT_GRACE_MS);
      }
    });
    child.once('error', reject);
    // 'close' comes after the IPC channel has been read to its end, so an answer sent
    // just before exiting has arrived by then.
    child.once('close', (code, signal) => {
      clearTimeout(lingering);
      if (answer) resolve(answer);
      else reject(new Error(`load generator exited (${String(code ?? signal)}) without answering`));
    });
  });
}

function generator(): void {
  const send = (message: Message, then: () => void = () => undefined) => {
    if (!process.send) throw new Error(`${SCRIPT} runs as loadInOwnProcess's child`);
    process.send(message, then);
  };
  let answered = false;
  // The channel closes once the answer is out, or when the benchmark is gone: either way
  // this process has nothing more to do (autocannon may keep timers; they do not count).
  process.once('disconnect', () => process.exit(answered ? 0 : 1));
  const answer = (message: Exclude<Message, 'ready'>) => {
    answered = true;
    send(message, () => process.disconnect());
  };
  process.once('message', (job: LoadJob) => {
    const meter = job.probe ? pauseMeter() : undefined;
    // async: a load that throws at once (a bad URL) is answered as an error too.
    const load = async () =>
      job.kind === 'paced'
        ? pacedLoad(job.target, job.seconds, job.rate)
        : autocannonLoad(job.target, job.seconds, job.rate);
    load().then(
      (sample) => {
        const pauses = meter?.take();
        answer({ sample, ...(pauses ? { pauses } : {}) });
      },
      (err: unknown) => {
        answer({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      },
    );
  });
  // What starting left behind (tsx's compiles, the modules' loading) is collected now, not
  // in a pause during the load: in a fresh process, a full collection that can take tens of ms.
  globalThis.gc?.();
  send('ready');
}

if (process.argv[1] === import.meta.filename) generator();
