// A service's HTTP API as data: each route names its method, path, who may call it, the
// zod schemas of its input and of each answer, and a handler. From that one list the kit
// builds the Koa router (authentication → validation → handler) and the OpenAPI 3.1
// document, so the published contract cannot drift from what the code accepts.
import Router, { type RouterMiddleware } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { authenticate, principalOf, requireRole, type AuthOptions } from './auth.js';
import type { Principal, Role } from './auth.js';
import type { RequestState } from './logger.js';
import { documentedStatuses } from './openapi.js';
import { Problem } from './problem.js';
import { validate } from './validate.js';

/**
 * Who may call: anyone (a token is ignored), anyone but a token if sent must be valid
 * (public reads that show more to sellers and admins), any valid token, or these roles.
 */
export type Access = 'public' | 'optional' | 'authenticated' | readonly Role[];

type PrincipalFor<A extends Access> = A extends 'public'
  ? undefined
  : A extends 'optional'
    ? Principal | undefined
    : Principal;

export interface ApiRequest<P, Q, B, Caller, H = unknown> {
  params: P;
  query: Q;
  body: B;
  headers: H;
  principal: Caller;
  /** The Koa context, for headers and the request logger. */
  ctx: Context & { state: RequestState };
}

export interface ApiReply {
  status: number;
  body?: unknown;
  /** The body already serialized (a cached answer): sent as it is, instead of `body`. */
  json?: string;
  headers?: Record<string, string>;
}

export interface ResponseSpec {
  description: string;
  /** The JSON body; absent for answers without one (204). */
  schema?: z.ZodType;
}

type AnyObject = z.ZodObject;

/** What every route says about itself, whatever its types. */
interface RouteDescription {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa path syntax (`/products/:id`); OpenAPI gets `{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Successful answers; error answers (problem+json) are added from the route's shape. */
  responses: Record<number, ResponseSpec>;
  /** Further error statuses this route answers, with why. */
  errors?: Record<number, string>;
  /**
   * This route is the OAuth 2 token endpoint (RFC 6749 §3.2) of these grants: the document
   * publishes an `oauth2` scheme whose tokenUrl is its path, so clients (and fuzzers) know
   * that a well-formed but wrong credential is its 400 invalid_grant (§5.2).
   */
  oauth2Flows?: readonly ('password' | 'clientCredentials')[];
}

export interface RouteDefinition<
  Deps,
  P extends AnyObject,
  Q extends AnyObject,
  B extends z.ZodType,
  A extends Access,
  H extends AnyObject,
> extends RouteDescription {
  access: A;
  params?: P;
  query?: Q;
  body?: B;
  /** Headers the route reads (lower-case names), validated like the rest. */
  headers?: H;
  handle: (
    request: ApiRequest<z.infer<P>, z.infer<Q>, z.infer<B>, PrincipalFor<A>, z.infer<H>>,
    deps: Deps,
  ) => Promise<ApiReply>;
}

/** A route with its types erased, as the router and the document builder see it. */
export interface Route<Deps> extends RouteDescription {
  access: Access;
  params?: AnyObject;
  query?: AnyObject;
  body?: z.ZodType;
  headers?: AnyObject;
  handle: (request: ApiRequest<never, never, never, never, never>, deps: Deps) => Promise<ApiReply>;
}

/**
 * `const route = routeFor<Deps>()` then `route({...})`: the handler's input and caller are
 * typed from the route's own schemas and access.
 */
export function routeFor<Deps>() {
  return <
    A extends Access,
    P extends AnyObject = z.ZodObject<Record<string, never>>,
    Q extends AnyObject = z.ZodObject<Record<string, never>>,
    B extends z.ZodType = z.ZodUndefined,
    H extends AnyObject = z.ZodObject<Record<string, never>>,
  >(
    definition: RouteDefinition<Deps, P, Q, B, A, H>,
  ): Route<Deps> => definition;
}

export interface ApiRouterOptions {
  auth: Omit<AuthOptions, 'optional'>;
  /**
   * Check every successful answer against its declared schema, and every refusal
   * (Problem) the handler throws against the statuses the route documents, and fail
   * loudly (500) when one does not match. On in tests, so the OpenAPI document stays true.
   */
  checkResponses?: boolean;
}

function accessMiddleware(access: Access, auth: ApiRouterOptions['auth']): RouterMiddleware[] {
  if (access === 'public') return [];
  if (access === 'optional') return [authenticate({ ...auth, optional: true })];
  const verify = authenticate(auth);
  return access === 'authenticated' ? [verify] : [verify, requireRole(...access)];
}

export class ResponseContractError extends Error {
  override name = 'ResponseContractError';
}

function checkRefusal(route: Route<unknown>, err: unknown): void {
  if (err instanceof Problem && !documentedStatuses(route).has(err.status)) {
    throw new ResponseContractError(
      `${route.operationId} refused with ${err.status} (${err.detail ?? err.title}), which it does not declare`,
    );
  }
}

function checkReply(route: Route<unknown>, reply: ApiReply): void {
  const spec = route.responses[reply.status];
  if (!spec) {
    throw new ResponseContractError(
      `${route.operationId} answered ${reply.status}, which it does not declare`,
    );
  }
  if (!spec.schema) {
    if (reply.body !== undefined || reply.json !== undefined)
      throw new ResponseContractError(
        `${route.operationId} ${reply.status} has an undeclared body`,
      );
    return;
  }
  const parsed = spec.schema.safeParse(
    reply.json === undefined ? reply.body : (JSON.parse(reply.json) as unknown),
  );
  if (!parsed.success) {
    throw new ResponseContractError(
      `${route.operationId} ${reply.status} does not match its schema: ${parsed.error.message}`,
    );
  }
}

/** The Koa router for `routes`, each handler called with `deps`. */
export function apiRouter<Deps>(
  routes: readonly Route<Deps>[],
  deps: Deps,
  opts: ApiRouterOptions,
): Router<RequestState> {
  const router = new Router<RequestState>();
  for (const route of routes) {
    const input = validate({
      params: route.params,
      query: route.query,
      body: route.body,
      headers: route.headers,
    });
    router[route.method](
      route.path,
      ...(accessMiddleware(route.access, opts.auth) as RouterMiddleware<RequestState>[]),
      input as unknown as RouterMiddleware<RequestState>,
      async (ctx) => {
        const state = ctx.state as RequestState & {
          input: { params: never; query: never; body: never; headers: never };
          principal?: Principal;
        };
        let reply: ApiReply;
        try {
          reply = await route.handle(
            {
              ...state.input,
              principal: (route.access === 'public'
                ? undefined
                : route.access === 'optional'
                  ? state.principal
                  : principalOf(state)) as never,
              ctx: ctx,
            },
            deps,
          );
        } catch (err) {
          if (opts.checkResponses) checkRefusal(route as Route<unknown>, err);
          throw err;
        }
        if (opts.checkResponses) checkReply(route as Route<unknown>, reply);
        ctx.status = reply.status;
        if (reply.headers) ctx.set(reply.headers);
        if (reply.json !== undefined) {
          ctx.type = 'json';
          ctx.body = reply.json;
        } else if (reply.body !== undefined) ctx.body = reply.body;
      },
    );
  }
  return router;
}
