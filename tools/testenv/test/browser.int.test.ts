// Headless Chromium (browser.ts) on a page served here: the DOM it returns is the one the page's
// script built after a fetch; a screenshot is a PNG of the window's size; a page that never
// settles is stopped at the deadline; no Chromium process and no profile folder outlive a call.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderedDom, screenshot } from '../src/browser.js';

const PAGE = `<!doctype html><html><body><ul id="list"></ul><script>
fetch('/items.json').then((r) => r.json()).then((items) => setTimeout(() => {
  document.getElementById('list').innerHTML = items.map((i) => '<li>' + i + '</li>').join('');
}, 500));
</script></body></html>`;

let server: Server;
let base: string;
const held: { destroy(): void }[] = [];
const shots = mkdtempSync(join(tmpdir(), 'gorten-browser-test-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    } else if (req.url === '/items.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('["drill","hammer"]');
    } else if (req.url === '/never') {
      held.push(res.socket ?? { destroy: () => undefined }); // no answer, ever
    } else {
      res.writeHead(404).end(); // /favicon.ico, which Chromium asks for too
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
  rmSync(shots, { recursive: true, force: true });
});

/** Chromium processes and profile folders of browser.ts (their names hold the prefix). */
function leftovers(): string[] {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gorten-chromium-');
      } catch {
        return false; // gone meanwhile
      }
    });
  const profiles = readdirSync(tmpdir()).filter((name) => name.startsWith('gorten-chromium-'));
  return [...processes.map((pid) => `process ${pid}`), ...profiles];
}

test('renderedDom is the DOM the page’s script built from a fetch', async () => {
  const before = leftovers();
  const dom = await renderedDom(`${base}/`);
  expect(dom).toContain('<ul id="list"><li>drill</li><li>hammer</li></ul>');
  expect(leftovers()).toEqual(before);
});

test('screenshot writes a PNG of the window’s size', async () => {
  const before = leftovers();
  const png = await screenshot(`${base}/`, join(shots, 'page.png'), { width: 800, height: 600 });
  expect(png).toMatchObject({ width: 800, height: 600 });
  expect(leftovers()).toEqual(before);
});

test('a page that never settles is stopped at the deadline, leaving nothing behind', async () => {
  const before = leftovers();
  const never = `${base}/never`;
  await expect(renderedDom(never, { timeoutMs: 3_000 })).rejects.toThrow(
    `Chromium on ${never}: no result within 3 s`,
  );
  expect(leftovers()).toEqual(before);
});
