// The OpenAPI 3.1 document of a service, built from the same route list as its router
// (api.ts): paths, parameters, request and answer schemas, the access each route needs,
// and the problem+json answers every route can give.
import { z } from 'zod';
import type { Route } from './api.js';
import { FOREIGN_CURSOR } from './pagination.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  });
  return rest;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

const PROBLEM_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details.',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'Each invalid input: where, which field, what is wrong.',
      items: {
        type: 'object',
        properties: {
          in: { type: 'string' },
          path: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
};

function parameters(
  schema: z.ZodObject | undefined,
  where: 'path' | 'query' | 'header',
): JsonSchema[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const described = jsonSchema(fieldSchema, 'input');
    const { description, ...fieldJson } = described;
    return {
      name,
      in: where,
      required: where === 'path' || !fieldSchema.safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: fieldJson,
    };
  });
}

/** Every error status the document lists for `route`, with why. */
function errorStatuses(route: Route<unknown>): Record<number, string> {
  const statuses: Record<number, string> = {};
  if (route.params ?? route.query ?? route.body ?? route.headers)
    statuses[400] = 'The request is not valid.';
  if (route.access !== 'public') statuses[401] = 'No valid access token.';
  if (Array.isArray(route.access)) statuses[403] = 'The caller may not do this.';
  if (route.body) statuses[413] = 'The body is too large.';
  Object.assign(statuses, route.errors ?? {});
  // A cursor matches its pattern and still may not decode (pagination.ts).
  if (route.query?.shape.cursor)
    statuses[422] = statuses[422] ? `${statuses[422]} Or: ${FOREIGN_CURSOR}` : FOREIGN_CURSOR;
  statuses[500] = 'Something went wrong on our side.';
  // Any route may find a dependency away or overloaded (problem.ts): send it again later.
  if (!(503 in statuses))
    statuses[503] = 'A service this one needs is unavailable or overloaded; see Retry-After.';
  return statuses;
}

/** The statuses the document says `route` answers: its successes and its errors. */
export function documentedStatuses(route: Route<unknown>): Set<number> {
  return new Set(
    [...Object.keys(route.responses), ...Object.keys(errorStatuses(route))].map(Number),
  );
}

function errorResponses(route: Route<unknown>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(errorStatuses(route)).map(([status, description]) => [
      status,
      { description, content: { 'application/problem+json': { schema: PROBLEM_REF } } },
    ]),
  );
}

function operation(route: Route<unknown>): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = spec.schema
      ? {
          description: spec.description,
          content: { 'application/json': { schema: jsonSchema(spec.schema, 'output') } },
        }
      : { description: spec.description };
  }
  const security =
    route.access === 'public'
      ? undefined
      : route.access === 'optional'
        ? [{}, { bearerAuth: [] }]
        : [{ bearerAuth: [] }];
  const params = [
    ...parameters(route.params, 'path'),
    ...parameters(route.query, 'query'),
    ...parameters(route.headers, 'header'),
  ];
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    ...(Array.isArray(route.access)
      ? { 'x-required-roles': route.access as readonly string[] }
      : {}),
    ...(security ? { security } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses: { ...responses, ...errorResponses(route) },
  };
}

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
}

/** The `oauth2` scheme of the token endpoint among `routes`, if one is. */
function oauth2Scheme(routes: readonly Route<never>[]): Record<string, JsonSchema> {
  const endpoint = routes.find((route) => route.oauth2Flows?.length);
  if (!endpoint?.oauth2Flows) return {};
  const tokenUrl = endpoint.path;
  const flows: Record<string, JsonSchema> = {};
  for (const flow of endpoint.oauth2Flows)
    flows[flow] =
      flow === 'password'
        ? { tokenUrl, refreshUrl: tokenUrl, scopes: {} }
        : { tokenUrl, scopes: {} };
  return {
    oauth2: {
      type: 'oauth2',
      description: `The grants ${endpoint.method.toUpperCase()} ${tokenUrl} answers; its access tokens are the bearerAuth tokens.`,
      flows,
    },
  };
}

/** The OpenAPI 3.1 document for `routes`; deterministic, so it can be checked in. */
export function openApiDocument(info: ApiInfo, routes: readonly Route<never>[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method] = operation(route as Route<unknown>);
  }
  return {
    openapi: '3.1.1',
    info,
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "RS256 access token from POST /auth/token, issued by the tenant's key.",
        },
        ...oauth2Scheme(routes),
      },
    },
  };
}
