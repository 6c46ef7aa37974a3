// Kong's Lua as the delivery tests use it without a Kong: string.format as Kong fills its
// error templates, and LuaJIT (Kong's own Lua) running kong/plugins/gorten-problem-details
// through kong-pdk-harness.lua, a stand-in for the few PDK calls the plugin makes.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const HARNESS = join(import.meta.dirname, 'kong-pdk-harness.lua');

/** Lua's string.format with one argument, as Kong fills its error templates. */
export function luaFormat(template: string, message: string): string {
  let used = 0;
  const out = template.replace(/%(.)/g, (_all, spec: string) => {
    if (spec === '%') return '%';
    if (spec !== 's' || used++ > 0) throw new Error(`template: %${spec} would need an argument`);
    return message;
  });
  if (used !== 1) throw new Error('template: no %s for the message');
  return out;
}

/** One answer as Kong has it when the plugin's header_filter runs. */
export interface KongAnswer {
  status: number;
  /** kong.response.get_source(): "exit" (kong.response.exit or .error), "error", "service". */
  source: 'exit' | 'error' | 'service';
  headers: Record<string, string>;
  /** The body as nginx hands it to body_filter, in chunks. */
  chunks: string[];
}

/** What the client gets: header names lowercased. */
export interface ClientAnswer {
  headers: Record<string, string>;
  body: string;
}

function luajit(args: string[], input: string): string {
  const result = spawnSync('luajit', [HARNESS, ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'luajit is not on PATH: it comes with Debian\'s "luajit" and "lua-cjson" packages ' +
        '(sudo apt-get install luajit lua-cjson; .ci/run installs them on a fresh machine)',
    );
  }
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`luajit ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The answer after gorten-problem-details' header_filter and body_filter. */
export function throughProblemDetails(answer: KongAnswer): ClientAnswer {
  return JSON.parse(luajit([], JSON.stringify(answer))) as ClientAnswer;
}

/** The plugin schema's name and its fields, as Kong would load them. */
export function problemDetailsSchema(): { name: string; fields: string[]; config_fields: number } {
  return JSON.parse(luajit(['schema'], '')) as {
    name: string;
    fields: string[];
    config_fields: number;
  };
}
