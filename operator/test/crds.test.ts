// The CRDs are the API contract: every field documented (kubectl explain), structural.
import { readCrds } from '../src/crds.js';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  'x-kubernetes-int-or-string'?: boolean;
}

/** Paths of fields without a description, below `path`. */
function undocumented(schema: Schema, path: string): string[] {
  const own = schema.description ? [] : [path];
  const children = Object.entries(schema.properties ?? {}).flatMap(([name, child]) =>
    name === 'metadata' && path === '' ? [] : undocumented(child, `${path}.${name}`),
  );
  const items = schema.items ? undocumented(schema.items, `${path}[]`) : [];
  return [...own, ...children, ...items];
}

const crds = readCrds() as unknown as {
  metadata: { name: string };
  spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
}[];

test('both CRDs are there', () => {
  expect(crds.map((c) => c.metadata.name).sort()).toEqual([
    'companies.gorten.io',
    'marketplaces.gorten.io',
  ]);
});

test.each(crds.map((c) => [c.metadata.name, c] as const))(
  '%s documents every field',
  (_name, crd) => {
    for (const version of crd.spec.versions) {
      expect(undocumented(version.schema.openAPIV3Schema, '')).toEqual([]);
    }
  },
);
