// The Node flags every service process starts with: in the image's ENTRYPOINT, under
// `npm start` and in the benchmarks (a test holds the Dockerfile to this list). They are
// V8 options NODE_OPTIONS refuses, so they go on the command line.
//
// --min-semi-space-size: V8 shrinks a service's young generation when allocation is slow
// for a while (between bursts of requests), and then scavenges up to 17 times as often per
// request when load comes back; held at 32 MiB a semi-space, a service scavenges as rarely
// as one whose young generation grew (bench/README.md, "Fourth round": 1.41 → 0.08
// scavenges per checkout). It keeps 64 MiB of young generation (two semi-spaces) at the
// least, half of what a busy service grows to anyway; the ceiling does not move.
export const SERVICE_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=32'];
