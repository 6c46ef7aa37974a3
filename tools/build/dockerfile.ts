// Reads the project's Dockerfiles and .dockerignore, so tests can check what no Docker
// engine is here to build: the stages, the runtime stage's files, what the context holds.
// Covers the syntax these files use (no heredocs, no ARG expansion in paths).
import { posix } from 'node:path';

export interface Instruction {
  keyword: string;
  /** `--name=value` options before the arguments (COPY --from, RUN --mount, FROM --platform). */
  flags: Record<string, string>;
  /** The arguments after the options, as written. */
  args: string;
  /** The JSON array of the exec form, when the arguments are one. */
  exec?: string[];
  line: number;
}

export interface Stage {
  index: number;
  name?: string;
  image: string;
  instructions: Instruction[];
}

function logicalLines(text: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comments (and parser directives) are dropped, inside a continuation too.
    if (trimmed.startsWith('#')) return;
    if (trimmed === '' && !pending) return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending
      ? { text: `${pending.text} ${part}`, line: pending.line }
      : { text: part, line: i + 1 };
    if (!continued) {
      lines.push(pending);
      pending = undefined;
    }
  });
  if (pending) lines.push(pending);
  return lines;
}

function parseInstruction(text: string, line: number): Instruction {
  const match = /^(\S+)\s*(.*)$/.exec(text);
  if (!match) throw new Error(`line ${line}: cannot read ${JSON.stringify(text)}`);
  const keyword = (match[1] ?? '').toUpperCase();
  let rest = match[2] ?? '';
  const flags: Record<string, string> = {};
  for (let flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); flag;) {
    flags[flag[1] ?? ''] = flag[2] ?? 'true';
    rest = rest.slice(flag[0].length);
    flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
  }
  const instruction: Instruction = { keyword, flags, args: rest.trim(), line };
  if (instruction.args.startsWith('[')) {
    const parsed = JSON.parse(instruction.args) as unknown;
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
      throw new Error(`line ${line}: ${keyword} exec form must be an array of strings`);
    instruction.exec = parsed;
  }
  return instruction;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { text: lineText, line } of logicalLines(text)) {
    const instruction = parseInstruction(lineText, line);
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      if (as !== undefined && as.toUpperCase() !== 'AS')
        throw new Error(`line ${line}: FROM <image> [AS <name>] expected`);
      stages.push({ index: stages.length, name, image, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) {
      if (instruction.keyword === 'ARG') continue; // global ARGs may precede the first FROM
      throw new Error(`line ${line}: ${instruction.keyword} before the first FROM`);
    }
    stage.instructions.push(instruction);
  }
  return stages;
}

export function findStage(stages: readonly Stage[], ref: string): Stage | undefined {
  return stages.find((s) => s.name === ref || String(s.index) === ref);
}

/** Sources and destination of COPY/ADD, in either form. */
function copyOperands(instruction: Instruction): { sources: string[]; dest: string } {
  const operands = instruction.exec ?? instruction.args.split(/\s+/);
  const dest = operands.at(-1);
  if (operands.length < 2 || dest === undefined)
    throw new Error(
      `line ${instruction.line}: ${instruction.keyword} needs a source and a destination`,
    );
  return { sources: operands.slice(0, -1), dest };
}

/** The stage's working directory after its instructions up to (not including) `until`. */
function workdirAt(stage: Stage, until = stage.instructions.length): string {
  let dir = '/';
  for (const i of stage.instructions.slice(0, until)) {
    if (i.keyword === 'WORKDIR') dir = posix.resolve(dir, i.args);
  }
  return dir;
}

export interface RuntimeFile {
  /** Path in the repository: a COPY from the build context, or from a build stage whose
   *  WORKDIR holds the repository (`COPY . .`) and what its RUN steps made there. */
  repoPath: string;
  /** Path under the final stage's WORKDIR. */
  appPath: string;
  /** True when the destination is a directory the source is copied into. */
  intoDirectory: boolean;
}

/** What the final stage copies in, each as a repository path and its place in the app. */
export function runtimeFiles(stages: readonly Stage[]): RuntimeFile[] {
  const final = stages.at(-1);
  if (!final) throw new Error('no stages');
  const appDir = workdirAt(final);
  return final.instructions.flatMap((instruction, at) => {
    if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') return [];
    const { sources, dest } = copyOperands(instruction);
    const from = instruction.flags.from;
    const source = from === undefined ? undefined : findStage(stages, from);
    if (from !== undefined && !source)
      throw new Error(`line ${instruction.line}: COPY --from=${from} names no stage`);
    const sourceRoot = source ? workdirAt(source) : '/';
    const destAbs = posix.resolve(workdirAt(final, at), dest);
    const appPath = posix.relative(appDir, destAbs);
    if (appPath.startsWith('..'))
      throw new Error(`line ${instruction.line}: ${dest} is outside WORKDIR ${appDir}`);
    return sources.map((src) => {
      const repoPath = posix.relative(sourceRoot, posix.resolve(sourceRoot, src));
      if (repoPath.startsWith('..'))
        throw new Error(`line ${instruction.line}: ${src} is outside the build stage's WORKDIR`);
      return {
        repoPath: repoPath === '' ? '.' : repoPath,
        appPath: appPath === '' ? '.' : appPath,
        intoDirectory: dest.endsWith('/') || sources.length > 1,
      };
    });
  });
}

/** Where a repository file ends up under the app directory, if the final stage copies it. */
export function appPathOf(files: readonly RuntimeFile[], repoPath: string): string | undefined {
  for (const f of files) {
    if (f.repoPath === repoPath)
      return f.intoDirectory ? posix.join(f.appPath, posix.basename(repoPath)) : f.appPath;
    // A copied directory brings its contents (not itself) to the destination.
    if (repoPath.startsWith(`${f.repoPath}/`) || f.repoPath === '.')
      return posix.join(f.appPath, posix.relative(f.repoPath, repoPath));
  }
  return undefined;
}

function globToRegExp(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw new Error(`unterminated [ in ${pattern}`);
      out += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}

function patternToRegExp(pattern: string): RegExp {
  const segments = posix.normalize(pattern.replace(/^\/+/, '')).split('/');
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') source += last ? '.*' : '(?:.*/)?';
    else source += globToRegExp(segment) + (last ? '' : '/');
  });
  return new RegExp(`^${source}$`);
}

/**
 * Whether .dockerignore keeps a path out of the build context: the last matching rule
 * wins (`!` re-includes), and a rule matching a directory takes all beneath it.
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      return { include, regexp: patternToRegExp(include ? l.slice(1).trim() : l) };
    });
  return (path) => {
    const parts = posix.normalize(path).split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) {
      if (prefixes.some((p) => rule.regexp.test(p))) ignored = !rule.include;
    }
    return ignored;
  };
}
