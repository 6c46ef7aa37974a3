// Headless Chromium (Debian's chromium) for tests that look at a page as a browser renders it:
// the DOM after the page's scripts ran, and a screenshot. One short-lived Chromium per call,
// with a temporary profile, in its own process group: stopped (and the profile removed) on
// every path, a deadline included.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalGroup } from './pids.js';
import { killTracked, spawnTracked } from './spawn.js';

const CHROMIUM = '/usr/bin/chromium';

export interface BrowserOptions {
  /** Virtual time the page may run for: scripts and their fetches finish within it. */
  budgetMs?: number;
  /** The longest the whole Chromium run may take, in real time. */
  timeoutMs?: number;
  width?: number;
  height?: number;
}

/** Debian's Chromium, or an error saying how to install it. */
export function chromiumPath(): string {
  const path = process.env.GORTEN_CHROMIUM ?? CHROMIUM;
  if (!existsSync(path)) {
    throw new Error(
      `Chromium is not installed (${path}): it is Debian's "chromium" package ` +
        '(sudo apt-get install chromium; .ci/run installs it on a fresh machine)',
    );
  }
  return path;
}

/** Runs one headless Chromium with `args` on `url`; resolves with its standard output. */
async function runChromium(
  url: string,
  args: readonly string[],
  opts: BrowserOptions,
): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'gorten-chromium-'));
  const { budgetMs = 15_000, timeoutMs = 60_000, width = 1280, height = 2000 } = opts;
  // --no-sandbox: tests run as root on CI, where Chromium's sandbox refuses to start; the pages
  // are the tests' own, on loopback.
  const child = spawnTracked(
    'chromium',
    chromiumPath(),
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-extensions',
      '--no-first-run',
      '--no-default-browser-check',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`,
      `--virtual-time-budget=${budgetMs}`,
      ...args,
      url,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null | 'timeout'>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    // Without a D-Bus (CI, containers) Chromium logs a few errors about it: noise, left out.
    const tail = stderr
      .trim()
      .split('\n')
      .filter((line) => !/dbus/i.test(line))
      .slice(-10)
      .join('\n');
    if (code === 'timeout') {
      throw new Error(`Chromium on ${url}: no result within ${timeoutMs / 1000} s\n${tail}`);
    }
    if (code !== 0) throw new Error(`Chromium on ${url} exited ${code}\n${tail}`);
    return stdout;
  } finally {
    clearTimeout(timer);
    await killTracked(child);
    // Helpers Chromium started (its crash handler) share its group and may outlive it.
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM, serialized, once its scripts have run for the virtual time budget. */
export function renderedDom(url: string, opts: BrowserOptions = {}): Promise<string> {
  return runChromium(url, ['--dump-dom'], opts);
}

export interface Png {
  width: number;
  height: number;
  bytes: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The size of a PNG image, from its header (the IHDR chunk that follows the signature). */
export function pngSize(data: Buffer): Png {
  if (data.length < 24 || !data.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new Error('not a PNG image');
  }
  if (data.toString('latin1', 12, 16) !== 'IHDR') throw new Error('a PNG without its IHDR chunk');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20), bytes: data.length };
}

/** A PNG of the page's window (width × height) at `file`; its size as read back. */
export async function screenshot(
  url: string,
  file: string,
  opts: BrowserOptions = {},
): Promise<Png> {
  await runChromium(url, [`--screenshot=${file}`], opts);
  if (!existsSync(file)) throw new Error(`Chromium on ${url} wrote no screenshot at ${file}`);
  return pngSize(readFileSync(file));
}
