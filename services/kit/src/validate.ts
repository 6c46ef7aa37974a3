// Validation at the edge: params, query and body parsed by zod schemas (strict objects:
// unknown keys are refused, so no mass assignment), and — before any schema — a refusal
// of MongoDB operator-shaped keys anywhere in the input, so `{"$gt": ""}` can never
// reach a query even where a schema accepts a free-form record.
import type { Middleware } from 'koa';
import { z } from 'zod';
import { badRequest } from './problem.js';

export interface InputSchemas<
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  H extends z.ZodType = z.ZodUnknown,
> {
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers by lower-case name; a plain (not strict) object: clients send many. */
  headers?: H;
}

export interface ValidatedInput<P, Q, B, H = unknown> {
  params: P;
  query: Q;
  body: B;
  headers: H;
}

/** Paths of keys MongoDB could read as operators or paths: any `$` (also `filter[$ne]`), or a dot. */
export function operatorKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => operatorKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
    const here = path ? `${path}.${key}` : key;
    return [...(key.includes('$') || key.includes('.') ? [here] : []), ...operatorKeys(v, here)];
  });
}

type Where = 'params' | 'query' | 'body' | 'headers';

function issues(where: Where, error: z.ZodError): { in: Where; path: string; message: string }[] {
  return error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message }));
}

/**
 * Validates the request and puts the typed result in `ctx.state.input`; any problem
 * is a 400 problem+json listing every error.
 */
export function validate<
  P extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
  B extends z.ZodType = z.ZodUnknown,
  H extends z.ZodType = z.ZodUnknown,
>(
  schemas: InputSchemas<P, Q, B, H>,
): Middleware<{ input: ValidatedInput<z.infer<P>, z.infer<Q>, z.infer<B>, z.infer<H>> }> {
  return async (ctx, next) => {
    const raw: Record<Where, unknown> = {
      params: (ctx as unknown as { params?: unknown }).params ?? {},
      query: ctx.query,
      body: (ctx.request as unknown as { body?: unknown }).body,
      headers: ctx.headers,
    };
    const smuggled = (['query', 'body'] as const).flatMap((where) =>
      operatorKeys(raw[where]).map((p) => `${where}.${p}`),
    );
    if (smuggled.length > 0) {
      throw badRequest('Keys that contain "$" or "." are not accepted.', {
        errors: smuggled.map((path) => ({ path, message: 'operator-shaped key' })),
      });
    }
    const input: Record<Where, unknown> = {
      params: raw.params,
      query: raw.query,
      body: undefined,
      headers: {},
    };
    const errors: ReturnType<typeof issues> = [];
    for (const where of ['params', 'query', 'body', 'headers'] as const) {
      const schema = schemas[where];
      if (!schema) continue;
      const parsed = schema.safeParse(raw[where]);
      if (parsed.success) input[where] = parsed.data;
      else errors.push(...issues(where, parsed.error));
    }
    if (errors.length > 0) throw badRequest('The request is not valid.', { errors });
    ctx.state.input = input as ValidatedInput<z.infer<P>, z.infer<Q>, z.infer<B>, z.infer<H>>;
    await next();
  };
}

/**
 * A change (a PATCH body) of any of `schema`'s fields, but at least one: refused with
 * `message` otherwise, and published as `minProperties: 1`, so the document says it too.
 */
export function atLeastOneField<T extends z.ZodObject>(schema: T, message: string) {
  return schema
    .refine((change) => Object.keys(change).length > 0, message)
    .meta({ minProperties: 1 });
}

/** One character `String.prototype.trim` keeps: its whitespace spelled out, not `\S`,
 * which means something else in the regex engines that read the published pattern. */
const NOT_BLANK = /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/**
 * Text stored trimmed. Its length limit applies to what is sent, which is what the
 * document can publish; unless blank text is `allowed`, it must hold one character that
 * trimming keeps (published as a pattern: `minLength` would count the spaces).
 */
export function trimmedText(max: number, blank: 'refused' | 'allowed' = 'refused') {
  const sent = z.string().max(max);
  return (blank === 'refused' ? sent.regex(NOT_BLANK, 'must not be blank') : sent).trim();
}

/** What RFC 5321 limits that zod's email pattern does not: part lengths, label edges. */
function withinMailLimits(address: string): boolean {
  const at = address.lastIndexOf('@');
  const labels = address.slice(at + 1).split('.');
  return at <= 64 && labels.every((label) => label.length <= 63 && !label.endsWith('-'));
}

/**
 * An email address as the validators of `format: email` read one: zod's check plus
 * RFC 5321's limits (a local part of at most 64 octets, domain labels of at most 63 that
 * do not end in a hyphen). The document says it with `format: email`; a pattern saying it
 * too would need a lookahead, which makes fuzzers' generation crawl.
 */
export function emailAddress() {
  return z
    .email()
    .max(254)
    .refine(withinMailLimits, 'longer than RFC 5321 allows, or a label ends in "-"');
}
