// What a benchmarked child process allocates, by where: a child started with
// `--import ./bench/alloc-profile.ts` and GORTEN_BENCH_ALLOC_PROFILE=<file> samples every
// allocation (V8's sampling heap profiler, collected objects included — not only what is
// still alive, as `--heap-prof` keeps) and writes the profile to that file when it exits.
// `npx tsx bench/profile-summary.ts --alloc A.heapprofile B.heapprofile` sums it up: which
// code makes the garbage the scavenges then have to clear.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.GORTEN_BENCH_ALLOC_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 32_768,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // A session in the same thread answers at once, so this works in an exit handler.
  process.once('exit', () => {
    session.post('HeapProfiler.stopSampling', (err, answer) => {
      if (!err) writeFileSync(file, JSON.stringify(answer.profile));
    });
  });
}
