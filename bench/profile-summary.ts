// Sums up V8 CPU profiles (`node --cpu-prof`, as the benchmarks' --cpu-prof writes them)
// by where the time went: each npm package, each kit/service source file, Node's own
// modules, garbage collection. Given two profiles of the same work (tracing off, then on)
// it shows both side by side and what the second spent more — where an overhead is.
// Sampled allocation profiles (.heapprofile, bench/alloc-profile.ts writes them) are summed
// the same way, in MiB allocated instead of ms.
//
//   npx tsx bench/profile-summary.ts [--skip 20] [--top 30] [--by function] A.cpuprofile [B.cpuprofile]
//   npx tsx bench/profile-summary.ts [--top 30] [--by function] A.heapprofile [B.heapprofile]
//
// --skip S leaves out the first S seconds (start-up: tsx compiling, connecting); a
// .heapprofile has no times: it covers the whole life of the process.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: {
    skip: { type: 'string', default: '0' },
    top: { type: 'string', default: '30' },
    by: { type: 'string', default: 'package' },
  },
  allowPositionals: true,
});
if (positionals.length < 1 || positionals.length > 2)
  throw new Error('profile-summary: one or two .cpuprofile files, e.g. tracing off and on');
if (values.by !== 'package' && values.by !== 'function')
  throw new Error(`--by: package or function, got ${values.by}`);
const skipMicros = Number(values.skip) * 1e6;
const top = Number(values.top);

/** Where a frame's code lives: a package, a file of ours, a Node module, or V8's own. */
function placeOf({ url, functionName }: ProfileNode['callFrame']): string {
  if (url === '') return functionName; // (garbage collector), (program), (idle)
  if (url.startsWith('node:')) return url;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  const ours = /\/((?:services|operator|tools)\/.*)$/.exec(url)?.[1];
  return ours ? ours.replace('/src/', ': ') : url;
}

function labelOf(frame: ProfileNode['callFrame']): string {
  if (values.by === 'package') return placeOf(frame);
  return `${frame.functionName || '(anonymous)'} ${placeOf(frame)}:${frame.lineNumber + 1}`;
}

/** Self time in ms by label, after the first --skip seconds. */
function selfTimes(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const label = new Map(profile.nodes.map((n) => [n.id, labelOf(n.callFrame)]));
  const times = new Map<string, number>();
  let at = profile.startTime;
  const first = profile.startTime + skipMicros;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < first) continue;
    const where = label.get(id) ?? '?';
    times.set(where, (times.get(where) ?? 0) + delta / 1000);
  }
  for (const key of times.keys()) if (key.startsWith('(idle)')) times.delete(key);
  return times;
}

interface AllocationNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children?: AllocationNode[];
}

/** MiB allocated by label, the whole profile. */
function allocations(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: AllocationNode };
  const sizes = new Map<string, number>();
  const visit = (node: AllocationNode) => {
    const where = labelOf(node.callFrame);
    sizes.set(where, (sizes.get(where) ?? 0) + node.selfSize / 2 ** 20);
    for (const child of node.children ?? []) visit(child);
  };
  visit(profile.head);
  return sizes;
}

const heap = positionals.every((p) => p.endsWith('.heapprofile'));
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const [a, b] = positionals.map(heap ? allocations : selfTimes);
if (!a) throw new Error('no profile');
const keys = [...new Set([...a.keys(), ...(b?.keys() ?? [])])];
const weight = (k: string) => (b ? (b.get(k) ?? 0) - (a.get(k) ?? 0) : (a.get(k) ?? 0));
keys.sort((x, y) => Math.abs(weight(y)) - Math.abs(weight(x)));
const ms = (v: number | undefined) => (v ?? 0).toFixed(heap ? 1 : 0);
const unit = heap ? 'MiB' : 'ms';
const share = (v: number | undefined, of: number) => `${((100 * (v ?? 0)) / of).toFixed(1)} %`;
const [ta, tb] = [total(a), b ? total(b) : 0];
const names = positionals.map((p) => basename(p));
const lines = b
  ? [
      `| ${values.by} | ${names[0]} ${unit} | ${names[1]} ${unit} | more ${unit} | share of more |`,
      '|---|---|---|---|---|',
      `| all (not idle) | ${ms(ta)} | ${ms(tb)} | ${ms(tb - ta)} | 100 % |`,
      ...keys
        .slice(0, top)
        .map(
          (k) =>
            `| ${k} | ${ms(a.get(k))} | ${ms(b.get(k))} | ${ms(weight(k))} | ${share(weight(k), tb - ta)} |`,
        ),
    ]
  : [
      `| ${values.by} | ${names[0]} ${unit} | share |`,
      '|---|---|---|',
      `| all (not idle) | ${ms(ta)} | 100 % |`,
      ...keys.slice(0, top).map((k) => `| ${k} | ${ms(a.get(k))} | ${share(a.get(k), ta)} |`),
    ];
process.stdout.write(`${lines.join('\n')}\n`);
