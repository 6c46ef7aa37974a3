// The Jenkinsfile, checked by a real linter — npm-groovy-lint, which runs Groovy's parser
// and CodeNarc on the JVM — and read through Groovy's own AST for the shape the pipeline
// must have (docs/ci.md): what it runs, in which order, with which safeguards.
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SETTINGS } from '@gorten/operator';

const ROOT = join(import.meta.dirname, '..', '..');
const JENKINSFILE = join(ROOT, 'Jenkinsfile');
const LINT_CONFIG = join(ROOT, '.groovylintrc.json');
/** npm-groovy-lint's lib/: its CLI, and the CodeNarc and Groovy jars it ships. */
const LINTER_LIB = dirname(createRequire(import.meta.url).resolve('npm-groovy-lint'));
const MINIMUM_JAVA = 17;
/** Short-lived JVMs on a small shared machine: C1 only starts faster, serial GC spawns no GC threads. */
const JAVA_OPTIONS = ['-Xmx1g', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const RUN_TIMEOUT_MS = 200_000;

/** The java executable, passed to npm-groovy-lint so that it never tries to download one. */
function findJava(): string {
  const dirs = [
    ...(process.env.JAVA_HOME ? [join(process.env.JAVA_HOME, 'bin')] : []),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  ];
  const java = dirs
    .map((dir) => join(dir, 'java'))
    .find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = `Java ${MINIMUM_JAVA} or newer is needed to lint the Jenkinsfile (npm-groovy-lint runs CodeNarc on the JVM): install openjdk-${MINIMUM_JAVA}-jre-headless or set JAVA_HOME`;
  if (!java) throw new Error(`${missing}; none found on PATH`);
  const version = spawnSync(java, ['-version'], { encoding: 'utf8' }).stderr;
  const major = Number(/version "(\d+)/.exec(version)?.[1]);
  if (!(major >= MINIMUM_JAVA)) throw new Error(`${missing}; ${java} is: ${version}`);
  return java;
}

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group and kills the whole group (the JVM too) on timeout. */
function run(command: string, args: readonly string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      reject(
        new Error(`${command} ${args.join(' ')} took longer than ${RUN_TIMEOUT_MS} ms\n${stderr}`),
      );
    }, RUN_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

interface Finding {
  line: number | string;
  rule: string;
  severity: 'error' | 'warning' | 'info';
  msg: string;
}
interface LintReport {
  summary: { totalFilesLinted: number };
  files: Record<string, { errors: Finding[] } | undefined>;
}

/**
 * Lints Jenkinsfiles in one JVM. Each file sits alone in its own folder of a temporary
 * directory: CodeNarc walks the common parent of the files it is given (node_modules too,
 * for the repository root), so that parent must be small.
 */
async function lint(
  java: string,
  files: Record<string, string>,
): Promise<Record<string, Finding[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'gorten-jenkinsfile-'));
  try {
    const paths = Object.keys(files).map((name) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'Jenkinsfile'), files[name]!);
      return join(name, 'Jenkinsfile');
    });
    const result = await run(
      process.execPath,
      [
        join(LINTER_LIB, 'index.js'),
        // No long-lived CodeNarc server: one JVM for this call, gone when it returns.
        '--noserver',
        `--javaexecutable=${java}`,
        `--javaoptions=${JAVA_OPTIONS.join(',')}`,
        `--config=${LINT_CONFIG}`,
        '--output=json',
        ...paths,
      ],
      dir,
    );
    let report: LintReport;
    try {
      report = JSON.parse(result.stdout) as LintReport;
    } catch {
      throw new Error(
        `npm-groovy-lint failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`,
      );
    }
    expect(report.summary.totalFilesLinted).toBe(paths.length);
    return Object.fromEntries(
      Object.keys(files).map((name) => [
        name,
        report.files[join(dir, name, 'Jenkinsfile')]?.errors ?? [],
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Jenkinsfile as Groovy parses it, reduced to the calls, assignments and literals of a pipeline. */
type Value = string | number | boolean | null | Call | Assign | Branch | Code | List | Value[];
interface Call {
  call: string;
  /** What the method is called on (`sh(...).trim()`); absent for steps and directives. */
  receiver?: Value;
  args: Value[];
  named: Record<string, Value>;
  body: Value[];
}
/** An `if` statement (in a method or a `script {}` block). */
interface Branch {
  condition: string;
  then: Value;
  otherwise: Value;
}
interface Assign {
  assign: string;
  value: Value;
}
/** Any other expression (a variable, a GString, a property), as Groovy prints it. */
interface Code {
  code: string;
}
interface List {
  list: Value[];
}
interface Script {
  statements: Value[];
  methods: { name: string; params: string[]; body: Value[] }[];
}

// Groovy's CompilationUnit to the CONVERSION phase: the AST of the source, before any
// class resolution, so Jenkins' steps need not exist.
const DESCRIBE_AST = String.raw`
import groovy.json.JsonOutput
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.*
import org.codehaus.groovy.control.*

def unit = new CompilationUnit()
unit.addSource(new File(args[0]))
unit.compile(Phases.CONVERSION)
def describe
describe = { node ->
    if (node instanceof ExpressionStatement) return describe(node.expression)
    if (node instanceof BlockStatement) return node.statements.collect { describe(it) }
    if (node instanceof MethodCallExpression) {
        def call = [call: node.methodAsString, args: [], named: [:], body: []]
        if (!node.implicitThis) call.receiver = describe(node.objectExpression)
        def arguments = node.arguments instanceof TupleExpression ? node.arguments.expressions : [node.arguments]
        arguments.each { argument ->
            if (argument instanceof ClosureExpression) call.body = describe(argument.code)
            else if (argument instanceof MapExpression) argument.mapEntryExpressions.each { call.named[it.keyExpression.text] = describe(it.valueExpression) }
            else call.args << describe(argument)
        }
        return call
    }
    if (node instanceof BinaryExpression && node.operation.text == '=') return [assign: node.leftExpression.text, value: describe(node.rightExpression)]
    if (node instanceof IfStatement) return [condition: node.booleanExpression.text, then: describe(node.ifBlock), otherwise: describe(node.elseBlock)]
    if (node instanceof EmptyStatement) return []
    if (node instanceof ListExpression) return [list: node.expressions.collect { describe(it) }]
    if (node instanceof ConstantExpression) return node.value
    return [code: node.text]
}
def module = unit.AST.modules[0]
println JsonOutput.toJson([
    statements: module.statementBlock.statements.collect { describe(it) },
    methods: module.methods.collect { [name: it.name, params: it.parameters*.name, body: describe(it.code)] },
])
`;

async function parseJenkinsfile(java: string): Promise<Script> {
  const classpath = join(LINTER_LIB, 'java', 'groovy', 'lib', '*');
  const args = [
    ...JAVA_OPTIONS,
    '-cp',
    classpath,
    'groovy.ui.GroovyMain',
    '-e',
    DESCRIBE_AST,
    JENKINSFILE,
  ];
  const result = await run(java, args, ROOT);
  if (result.status !== 0)
    throw new Error(`Groovy could not parse the Jenkinsfile:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Script;
}

const isCall = (value: Value, name?: string): value is Call =>
  typeof value === 'object' &&
  value !== null &&
  'call' in value &&
  (name === undefined || value.call === name);

/** A literal string from the source; anything computed fails the test that needs it. */
function text(value: Value | undefined): string {
  if (typeof value !== 'string')
    throw new Error(`expected a string literal, found ${JSON.stringify(value)}`);
  return value;
}

/** The source text of a computed value (a GString, a variable, a property). */
function codeOf(value: Value | undefined): string {
  if (typeof value !== 'object' || value === null || !('code' in value)) {
    throw new Error(`expected an expression, found ${JSON.stringify(value)}`);
  }
  return value.code;
}

/** The direct children of a block that call `name`. */
const callsIn = (body: Value[], name: string): Call[] =>
  body.filter((value) => isCall(value, name));

/** The one direct child of a block that calls `name`. */
function only(body: Value[], name: string): Call {
  const found = callsIn(body, name);
  if (found.length !== 1) throw new Error(`expected one ${name} {}, found ${found.length}`);
  return found[0]!;
}

/** Every call anywhere below a value: in arguments, named arguments, lists and closures. */
function callsBelow(value: Value | undefined): Call[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap(callsBelow);
  if ('list' in value) return value.list.flatMap(callsBelow);
  if ('assign' in value) return callsBelow(value.value);
  if ('condition' in value) return [value.then, value.otherwise].flatMap(callsBelow);
  if (!('call' in value)) return [];
  const inside = [value.receiver, ...value.args, ...Object.values(value.named), ...value.body];
  return [value, ...inside.flatMap(callsBelow)];
}

/** The stages of a `stages {}` or `parallel {}` block, by name, in order. */
function stagesOf(block: Call): Map<string, Call> {
  return new Map(callsIn(block.body, 'stage').map((stage) => [text(stage.args[0]), stage]));
}

const stepsOf = (stage: Call): Value[] => only(stage.body, 'steps').body;

/** The script of every `sh` step below a value, which must be a plain string. */
function shellScripts(value: Value): string[] {
  return callsBelow(value)
    .filter((call) => call.call === 'sh')
    .map((call) => {
      const [script] = call.args;
      if (typeof script !== 'string')
        throw new Error(`sh with a computed script: ${JSON.stringify(script)}`);
      return script;
    });
}

/** The value a declarative block assigns to a variable (`environment { NAME = value }`). */
function assigned(block: Call, name: string): Value {
  const found = block.body.find(
    (value) =>
      typeof value === 'object' && value !== null && 'assign' in value && value.assign === name,
  );
  if (!found) throw new Error(`${block.call} {} does not set ${name}`);
  return (found as Assign).value;
}

/** The minutes of a `timeout(time: n, unit: 'MINUTES' | 'HOURS')` option. */
function timeoutMinutes(options: Call): number {
  const { time, unit } = only(options.body, 'timeout').named;
  if (typeof time !== 'number')
    throw new Error(`timeout without a literal time: ${JSON.stringify(time)}`);
  const perUnit: Record<string, number> = { MINUTES: 1, HOURS: 60 };
  const factor = perUnit[text(unit)];
  if (factor === undefined) throw new Error(`timeout unit ${text(unit)}`);
  return time * factor;
}

/** The unclosed-stage mistake: the closing brace of the first stage removed. */
function withUnclosedStage(source: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => /^\s*stage\(.*\{\s*$/.test(line));
  const indent = /^\s*/.exec(lines[start] ?? '')![0];
  const end = lines.findIndex((line, index) => index > start && line === `${indent}}`);
  if (start < 0 || end < 0) throw new Error('the Jenkinsfile has no stage block to break');
  lines.splice(end, 1);
  return lines.join('\n');
}

const java = findJava();
const source = readFileSync(JENKINSFILE, 'utf8');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

// Both JVMs start together; each test awaits the result it reads, so a Jenkinsfile that
// Groovy cannot parse fails the structure tests with the parse error, and the lint tests
// with the linter's findings.
let linted: Promise<Record<string, Finding[]>>;
let parsed: Promise<Script>;
beforeAll(async () => {
  linted = lint(java, {
    real: source,
    'unclosed-stage': withUnclosedStage(source),
    'long-line': `${source}// ${'x'.repeat(130)}\n`,
  });
  parsed = parseJenkinsfile(java);
  await Promise.allSettled([linted, parsed]);
}, 2 * RUN_TIMEOUT_MS);

describe('npm-groovy-lint (CodeNarc) on the Jenkinsfile', () => {
  test('finds no errors and no warnings', async () => {
    const problems = (await linted).real!.filter((finding) => finding.severity !== 'info');
    expect(problems.map((f) => `line ${f.line}: ${f.rule} (${f.severity}): ${f.msg}`)).toEqual([]);
  });

  test('reports a syntax error: a copy with an unclosed stage does not parse', async () => {
    expect((await linted)['unclosed-stage']).toContainEqual(
      expect.objectContaining({ rule: 'NglParseError', severity: 'error' }),
    );
  });

  test("applies CodeNarc's rules: a copy with an over-long line gets a warning", async () => {
    expect((await linted)['long-line']).toContainEqual(
      expect.objectContaining({ rule: 'LineLength', severity: 'warning' }),
    );
  });
});

describe('the pipeline', () => {
  let script: Script;
  let pipeline: Call;
  let stages: Map<string, Call>;
  beforeAll(async () => {
    script = await parsed;
    pipeline = only(script.statements, 'pipeline');
    stages = stagesOf(only(pipeline.body, 'stages'));
  });

  test('is one declarative pipeline block, with only helper methods beside it', () => {
    expect(script.statements).toEqual([pipeline]);
  });

  test('runs its stages in order: checkout, install, verify, helm lint, images, deploy', () => {
    expect([...stages.keys()]).toEqual([
      'Checkout',
      'Install',
      'Verify',
      'Helm lint',
      'Images',
      'Deploy',
    ]);
  });

  test('never builds concurrently, discards old builds and has a timeout', () => {
    const options = only(pipeline.body, 'options');
    expect(callsIn(options.body, 'disableConcurrentBuilds')).toHaveLength(1);
    const [rotator] = only(options.body, 'buildDiscarder').args;
    expect(isCall(rotator!, 'logRotator')).toBe(true);
    expect(Number(text((rotator as Call).named.numToKeepStr))).toBeGreaterThan(0);
    expect(timeoutMinutes(options)).toBeGreaterThan(0);
  });

  test('gives every stage after the checkout a timeout within the pipeline’s', () => {
    const total = timeoutMinutes(only(pipeline.body, 'options'));
    for (const [name, stage] of stages) {
      if (name === 'Checkout') continue;
      const minutes = timeoutMinutes(only(stage.body, 'options'));
      expect({ name, fits: minutes > 0 && minutes <= total }).toEqual({ name, fits: true });
    }
  });

  test('checks out in its own stage and tags images with the short commit', () => {
    // Declarative's implicit checkout is off, so the Checkout stage is the only one.
    expect(callsIn(only(pipeline.body, 'options').body, 'skipDefaultCheckout')).toHaveLength(1);
    const steps = stepsOf(stages.get('Checkout')!);
    expect(callsIn(steps, 'checkout')[0]?.args).toEqual([{ code: 'scm' }]);
    const tag = callsBelow(only(steps, 'script').body).find((call) => call.call === 'sh');
    expect(tag?.named.script).toMatch(/^git rev-parse --short(=\d+)? HEAD$/);
  });

  test('installs dependencies from the lockfile', () => {
    expect(callsIn(stepsOf(stages.get('Install')!), 'sh').map((call) => call.args[0])).toEqual([
      expect.stringMatching(/^npm ci\b/),
    ]);
  });

  test('runs lint, typecheck and the tests in parallel, each writing JUnit into the collected folder', () => {
    const junitDir = assigned(only(pipeline.body, 'environment'), 'JUNIT_DIR');
    expect(typeof junitDir).toBe('string');
    const verify = stagesOf(only(stages.get('Verify')!.body, 'parallel'));
    expect([...verify.keys()]).toEqual(['Lint', 'Typecheck', 'Test']);

    // Lint and typecheck: the npm scripts themselves, through the helper that records them.
    const helper = script.methods.find((method) => method.name === 'npmScriptAsJUnit');
    expect(helper?.params).toEqual(['script']);
    const helperCalls = callsBelow(helper!.body);
    const runs = helperCalls.find((call) => call.call === 'sh');
    expect(codeOf(runs?.named.script)).toMatch(/^npm run \$\{?script\}? /);
    expect(runs?.named.returnStatus).toBe(true);
    const report = helperCalls.find((call) => call.call === 'writeFile');
    expect(codeOf(report?.named.file)).toMatch(/^\$\{?env\.JUNIT_DIR\}?\/\$\{?script\}?\.xml$/);
    expect(helperCalls.some((call) => call.call === 'error')).toBe(true);
    for (const [stage, npmScript] of [
      ['Lint', 'lint'],
      ['Typecheck', 'typecheck'],
    ] as const) {
      expect(stepsOf(verify.get(stage)!)).toEqual([
        expect.objectContaining({ call: helper!.name, args: [npmScript] }),
      ]);
      expect(manifest.scripts[npmScript]).toBeDefined();
    }

    // The tests: the test servers built first, then jest with the jest-junit reporter.
    const test = verify.get('Test')!;
    const environment = only(test.body, 'environment');
    expect(assigned(environment, 'JEST_JUNIT_OUTPUT_DIR')).toEqual({ code: '${env.JUNIT_DIR}' });
    expect(assigned(environment, 'JEST_JUNIT_OUTPUT_NAME')).toMatch(/\.xml$/);
    expect(shellScripts(test)).toEqual([
      'bash tools/testenv/build-servers.sh',
      expect.stringMatching(/^npm run test:jest -- .*--reporters=default --reporters=jest-junit\b/),
    ]);
    expect(manifest.scripts['test:jest']).toBeDefined();
    expect(existsSync(join(ROOT, 'node_modules', 'jest-junit', 'package.json'))).toBe(true);
  });

  test('lints the chart with helm', () => {
    expect(shellScripts(stages.get('Helm lint')!)).toEqual([
      expect.stringMatching(/^helm lint( --\S+)* charts\/gorten$/),
    ]);
    expect(existsSync(join(ROOT, 'charts', 'gorten', 'Chart.yaml'))).toBe(true);
  });

  test('builds and pushes both images, tagged with the commit, logged in with stored credentials', () => {
    const images = stages.get('Images')!;
    const binding = only(stepsOf(images), 'withCredentials');
    expect(binding.args).toEqual([
      {
        list: [
          {
            call: 'usernamePassword',
            args: [],
            named: {
              credentialsId: { code: 'params.REGISTRY_CREDENTIALS_ID' },
              usernameVariable: 'REGISTRY_USER',
              passwordVariable: 'REGISTRY_TOKEN',
            },
            body: [],
          },
        ],
      },
    ]);
    const [build] = shellScripts(binding);
    expect(build).toMatch(/docker login "\$REGISTRY" -u "\$REGISTRY_USER" --password-stdin/);
    expect(build).toMatch(/for image in services operator; do/);
    expect(build).toMatch(/docker buildx build --file "\$image\/Dockerfile"/);
    expect(build).toMatch(/--tag "\$IMAGE_PREFIX\/\$image:\$IMAGE_TAG" --push \.\s/);
    for (const image of ['services', 'operator'])
      expect(existsSync(join(ROOT, image, 'Dockerfile'))).toBe(true);
    // The login stays in this build's temporary folder.
    expect(codeOf(assigned(only(images.body, 'environment'), 'DOCKER_CONFIG'))).toContain(
      'env.WORKSPACE_TMP',
    );
  });

  test('pushes the images the chart and the operator deploy by default', () => {
    const prefix = text(assigned(only(pipeline.body, 'environment'), 'IMAGE_PREFIX'));
    const values = parseYaml(
      readFileSync(join(ROOT, 'charts', 'gorten', 'values.yaml'), 'utf8'),
    ) as {
      image: { repository: string };
      tenants: { image: { repository: string } };
    };
    expect(`${prefix}/operator`).toBe(values.image.repository);
    expect(`${prefix}/services`).toBe(values.tenants.image.repository);
    expect(`${prefix}/services`).toBe(DEFAULT_SETTINGS.image.repository);
  });

  test('deploys with helm upgrade --install from main only, with the kubeconfig from the credentials store', () => {
    const deploy = stages.get('Deploy')!;
    expect(only(deploy.body, 'when').body).toEqual([
      { call: 'branch', args: ['main'], named: {}, body: [] },
    ]);
    const binding = only(stepsOf(deploy), 'withCredentials');
    expect(binding.args).toEqual([
      {
        list: [
          {
            call: 'file',
            args: [],
            named: {
              credentialsId: { code: 'params.KUBECONFIG_CREDENTIALS_ID' },
              variable: 'KUBECONFIG',
            },
            body: [],
          },
        ],
      },
    ]);
    const [upgrade] = shellScripts(binding);
    expect(upgrade).toMatch(/^\s*helm upgrade --install "\$HELM_RELEASE" charts\/gorten\b/);
    expect(upgrade).toMatch(/--wait\b/);

    // Both images at this build's tag, under value names the chart's schema accepts.
    const sets = [...upgrade!.matchAll(/--set ([\w.]+)="\$IMAGE_TAG"/g)].map((match) => match[1]!);
    expect(sets.sort()).toEqual(['image.tag', 'tenants.image.tag']);
    const schema = JSON.parse(
      readFileSync(join(ROOT, 'charts', 'gorten', 'values.schema.json'), 'utf8'),
    ) as SchemaNode;
    for (const path of sets)
      expect({ path, type: schemaAt(schema, path)?.type }).toEqual({ path, type: 'string' });
  });

  test('declares the credentials ids it uses as parameters', () => {
    const declared = callsIn(only(pipeline.body, 'parameters').body, 'string').map(
      (call) => call.named.name,
    );
    const used = callsBelow({ list: [...stages.values()] })
      .flatMap((call) => Object.values(call.named))
      .filter(
        (value): value is Code => typeof value === 'object' && value !== null && 'code' in value,
      )
      .map((value) => /^params\.(\w+)$/.exec(value.code)?.[1])
      .filter((name) => name !== undefined);
    expect(used.length).toBeGreaterThan(0);
    expect([...new Set(used)].sort()).toEqual([...declared].sort());
  });

  test('hands secrets to the shell as variables, never through Groovy string interpolation', () => {
    // shellScripts throws on an `sh` whose script is a GString or other computed value.
    for (const binding of callsBelow({ list: [...stages.values()] }).filter(
      (c) => c.call === 'withCredentials',
    )) {
      expect(shellScripts(binding).length).toBeGreaterThan(0);
    }
  });

  test('always publishes the JUnit reports, then cleans the workspace', () => {
    const always = only(only(pipeline.body, 'post').body, 'always').body;
    expect(always).toEqual([
      expect.objectContaining({
        call: 'junit',
        named: expect.objectContaining({
          testResults: { code: '${env.JUNIT_DIR}/*.xml' },
        }) as unknown,
      }),
      { call: 'cleanWs', args: [], named: {}, body: [] },
    ]);
  });
});

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
}

/** The schema of a dotted values path (`tenants.image.tag`), if the schema declares it. */
function schemaAt(schema: SchemaNode, path: string): SchemaNode | undefined {
  return path
    .split('.')
    .reduce<SchemaNode | undefined>((node, key) => node?.properties?.[key], schema);
}
