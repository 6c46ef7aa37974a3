// Every service's contract check: the document it serves is the one its routes make,
// and the copy checked in beside it (services/<name>/openapi.json) is that one too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiFor, type ApiInfo, type Route } from '@gorten/kit';
import type { Call } from './http.js';

export async function expectOpenApiUpToDate(
  definition: { info: ApiInfo; routes: readonly Route<never>[] },
  serviceDir: string,
  call: Call,
): Promise<void> {
  const generated = openApiFor(definition);
  expect((await call('GET', '/openapi.json')).body).toEqual(generated);
  const checkedIn = JSON.parse(readFileSync(join(serviceDir, 'openapi.json'), 'utf8')) as unknown;
  // When this fails: `npm run openapi`, then review and commit the document.
  expect(checkedIn).toEqual(generated);
}
