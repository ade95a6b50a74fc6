import { type Context, type Env, Hono, type Input, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Handler } from "hono/types";
import { validator } from "hono/validator";
import * as z from "zod/mini";

// Routes are declared the way OpenAPI describes them (method, path, request parts, responses) with
// zod schemas, validated with those schemas and listed in an OpenAPI 3.1 document built from them.
// This is what @hono/zod-openapi did, on zod's tree-shakable "mini" API instead of its classic one:
// classic zod alone weighed more than a whole Lambda bundle may (decision 46).

/** A schema as routes give it: any zod (mini) schema. */
export type Schema = z.ZodMiniType;

/** An OpenAPI media type entry: the body's schema. */
export interface MediaContent {
  schema: Schema;
}

export interface RouteConfig {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI path; `{name}` placeholders are Hono's `:name`. */
  path: string;
  tags?: readonly string[];
  summary?: string;
  description?: string;
  operationId?: string;
  security?: readonly Record<string, readonly string[]>[];
  /** Served but left out of the document. */
  hide?: boolean;
  request?: {
    params?: z.ZodMiniObject;
    query?: z.ZodMiniObject;
    headers?: z.ZodMiniObject;
    body?: { description?: string; required?: boolean; content: Record<string, MediaContent> };
  };
  responses: Record<
    number,
    {
      description: string;
      headers?: Record<string, { schema: Record<string, unknown>; description?: string }>;
      content?: Record<string, MediaContent>;
    }
  >;
}

/** Types the route's config as given, so handlers see the request parts its schemas produce. */
export const createRoute = <const R extends RouteConfig>(route: R): R => route;

/** Every schema given a name, by name: the components a document may list. */
const namedSchemas = new Map<string, Schema>();

/** A schema listed by `name` under the document's components, and referenced wherever it is used. */
export function named<T extends Schema>(name: string, schema: T): T {
  const documented = schema.check(z.meta({ id: name })) as T;
  namedSchemas.set(name, documented);
  return documented;
}

export type ValidationTarget = "param" | "query" | "header" | "json";

export type ValidationResult =
  | { target: ValidationTarget; success: true; data: unknown }
  | { target: ValidationTarget; success: false; error: z.core.$ZodError; data: unknown };

/** Decides what a failed validation answers; returning nothing lets the app's default decide. */
export type Hook<E extends Env> = (
  result: ValidationResult,
  c: Context<E>,
) => Response | undefined | Promise<Response | undefined>;

type Output<S> = S extends z.ZodMiniType ? z.output<S> : never;
type Part<R, K extends string, T extends string> = R extends { request: Record<K, infer S> }
  ? Record<T, Output<S>>
  : unknown;
type JsonBody<R> = R extends { request: { body: { content: { "application/json": { schema: infer S } } } } }
  ? { json: Output<S> }
  : unknown;

/** What `c.req.valid(...)` returns in a route's handler. */
export type RouteInput<R extends RouteConfig> = Input & {
  out: Part<R, "params", "param"> & Part<R, "query", "query"> & Part<R, "headers", "header"> & JsonBody<R>;
};

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json(;\s*[A-Za-z0-9-]+=([^;]+))*$/i;

function unsupportedMediaType(): never {
  throw new HTTPException(415, { message: "Unsupported Media Type" });
}

/**
 * A JSON body of the declared media type, or 415. A request without a Content-Type may only come
 * without a body. The body is read as the JSON validator reads it, once (Hono caches it).
 */
const jsonMediaType: MiddlewareHandler = async (c, next) => {
  const contentType = c.req.header("content-type");
  if (contentType ? !JSON_MEDIA_TYPE.test(contentType) : (await c.req.arrayBuffer()).byteLength > 0) {
    unsupportedMediaType();
  }
  await next();
};

/**
 * An app whose routes are declared with `createRoute`: `openapi(route, handler, hook?)` validates
 * path parameters, query, headers and JSON body with the route's schemas before the handler runs
 * (a failure goes to the route's hook, else the app's default hook), and `doc31` serves the OpenAPI
 * 3.1 document of every route, built on its first request.
 */
export class OpenApiApp<E extends Env = Env> extends Hono<E> {
  readonly #routes: RouteConfig[] = [];
  readonly #defaultHook: Hook<E> | undefined;
  readonly securitySchemes: Record<string, Record<string, unknown>> = {};

  constructor(options: { defaultHook?: Hook<E> } = {}) {
    super();
    this.#defaultHook = options.defaultHook;
  }

  openapi<R extends RouteConfig>(route: R, handler: Handler<E, string, RouteInput<R>>, hook?: Hook<E>): this {
    if (!route.hide) this.#routes.push(route);
    const onResult: Hook<E> = hook ?? ((result, c) => this.#defaultHook?.(result, c));
    const validators: MiddlewareHandler[] = [];
    const { request } = route;
    if (request?.query) validators.push(validate("query", request.query, onResult));
    if (request?.params) validators.push(validate("param", request.params, onResult));
    if (request?.headers) validators.push(validate("header", request.headers, onResult));
    const json = request?.body?.content["application/json"]?.schema;
    if (json) {
      validators.push(jsonMediaType);
      const body = validate("json", json, onResult);
      validators.push(
        request?.body?.required
          ? body
          : async (c, next) => {
              if (c.req.header("content-type")) return body(c, next);
              c.req.addValidatedData("json", {});
              await next();
            },
      );
    }
    this.on(
      [route.method.toUpperCase()],
      [route.path.replaceAll(/\/{(.+?)}/g, "/:$1")],
      ...validators,
      handler as never,
    );
    return this;
  }

  /** Serves the document at `path`; built once, on the first request for it. */
  doc31(path: string, info: OpenApiInfo): this {
    let document: Record<string, unknown> | undefined;
    this.get(path, (c) => {
      document ??= buildDocument(this.#routes, info, this.securitySchemes);
      return c.json(document);
    });
    return this;
  }
}

/**
 * Validates one request part with its schema (as @hono/zod-validator did): header names are
 * matched case-insensitively to the schema's keys, a failure goes to the hook, and the data the
 * schema produced is what the handler reads.
 */
function validate<E extends Env>(target: ValidationTarget, schema: Schema, hook: Hook<E>): MiddlewareHandler {
  const headerKeys =
    target === "header" && "shape" in schema
      ? new Map(Object.keys((schema as z.ZodMiniObject).shape).map((key) => [key.toLowerCase(), key]))
      : undefined;
  return validator(target, async (value: Record<string, unknown>, c) => {
    const data = headerKeys
      ? Object.fromEntries(Object.entries(value).map(([key, item]) => [headerKeys.get(key) ?? key, item]))
      : value;
    const result = await schema.safeParseAsync(data);
    const answer = await hook(
      result.success
        ? { target, success: true, data: result.data }
        : { target, success: false, error: result.error, data },
      c as unknown as Context<E>,
    );
    if (answer) return answer;
    if (!result.success) return c.json(result, 400);
    return result.data;
  });
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  servers?: readonly { url: string; description?: string }[];
  tags?: readonly { name: string; description?: string }[];
}

type JsonSchema = Record<string, unknown>;

const COMPONENTS = "#/components/schemas/";

/** A JSON Schema as the OpenAPI document carries it: without `$schema` and `$id` of its own. */
function clean(schema: JsonSchema | undefined): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema ?? {};
  return rest;
}

/**
 * Converts `schemas` with zod's JSON Schema generator (draft 2020-12, OpenAPI 3.1's dialect):
 * named schemas become references to components, the others are given inline.
 */
function convert(io: "input" | "output", schemas: readonly Schema[]) {
  const registry = z.registry<{ id?: string }>();
  const idOf = new Map<Schema, string>();
  for (const [name, schema] of namedSchemas) {
    registry.add(schema, { id: name });
    idOf.set(schema, name);
  }
  schemas.forEach((schema, index) => {
    if (!idOf.has(schema)) registry.add(schema, { id: `__${index}` });
  });
  const { schemas: converted } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    uri: (id) => `${COMPONENTS}${id}`,
  });
  const components: Record<string, JsonSchema> = {};
  for (const name of namedSchemas.keys()) components[name] = clean(converted[name] as JsonSchema);
  const inline = schemas.map((schema, index) => {
    const name = idOf.get(schema);
    return name ? { $ref: `${COMPONENTS}${name}` } : clean(converted[`__${index}`] as JsonSchema);
  });
  return { inline, components };
}

/** Names of the components `value` refers to, directly or through other components. */
function referenced(value: unknown, components: Record<string, JsonSchema>, found = new Set<string>()) {
  if (Array.isArray(value)) for (const item of value) referenced(item, components, found);
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string" && item.startsWith(COMPONENTS)) {
        const name = item.slice(COMPONENTS.length);
        if (!found.has(name)) {
          found.add(name);
          referenced(components[name], components, found);
        }
      } else referenced(item, components, found);
    }
  }
  return found;
}

/** One parameter per property of a request part's object schema. */
function parameters(location: "path" | "query" | "header", schema: JsonSchema | undefined) {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || required.has(name),
    ...(typeof property.description === "string" ? { description: property.description } : {}),
    schema: property,
  }));
}

/**
 * The OpenAPI 3.1 document of `routes`. Request parts are described as they are sent (zod's input
 * types), responses as they are produced (output types); named schemas are listed once under
 * components, only those the routes reach.
 */
export function buildDocument(
  routes: readonly RouteConfig[],
  info: OpenApiInfo,
  securitySchemes: Record<string, Record<string, unknown>> = {},
): Record<string, unknown> {
  const requestSchemas: Schema[] = [];
  const responseSchemas: Schema[] = [];
  const slot = (list: Schema[], schema: Schema | undefined) =>
    schema === undefined ? -1 : list.push(schema) - 1;
  const plan = routes.map((route) => ({
    route,
    params: slot(requestSchemas, route.request?.params),
    query: slot(requestSchemas, route.request?.query),
    headers: slot(requestSchemas, route.request?.headers),
    body: Object.entries(route.request?.body?.content ?? {}).map(
      ([type, media]) => [type, slot(requestSchemas, media.schema)] as const,
    ),
    responses: Object.entries(route.responses).map(([status, response]) => ({
      status,
      response,
      content: Object.entries(response.content ?? {}).map(
        ([type, media]) => [type, slot(responseSchemas, media.schema)] as const,
      ),
    })),
  }));
  const requests = convert("input", requestSchemas);
  const responses = convert("output", responseSchemas);
  // A component in the form the routes use it: as sent, or as produced (the same, or an error).
  const inRequests = referenced(requests.inline, requests.components);
  const inResponses = referenced(responses.inline, responses.components);
  const components: Record<string, JsonSchema> = {};
  for (const name of [...new Set([...inRequests, ...inResponses])].sort()) {
    const asSent = requests.components[name];
    const asProduced = responses.components[name];
    if (
      inRequests.has(name) &&
      inResponses.has(name) &&
      JSON.stringify(asSent) !== JSON.stringify(asProduced)
    ) {
      throw new Error(`schema ${name} differs between requests and responses: give each its own name`);
    }
    components[name] = (inResponses.has(name) ? asProduced : asSent) as JsonSchema;
  }
  const at = (converted: { inline: JsonSchema[] }, index: number) => converted.inline[index];

  const paths: Record<string, Record<string, unknown>> = {};
  for (const entry of plan) {
    const { route } = entry;
    const operation: Record<string, unknown> = {
      ...(route.tags ? { tags: route.tags } : {}),
      ...(route.summary ? { summary: route.summary } : {}),
      ...(route.description ? { description: route.description } : {}),
      ...(route.operationId ? { operationId: route.operationId } : {}),
      ...(route.security ? { security: route.security } : {}),
    };
    const params = [
      ...parameters("path", at(requests, entry.params)),
      ...parameters("query", at(requests, entry.query)),
      ...parameters("header", at(requests, entry.headers)),
    ];
    if (params.length > 0) operation.parameters = params;
    if (route.request?.body) {
      operation.requestBody = {
        ...(route.request.body.description ? { description: route.request.body.description } : {}),
        required: Boolean(route.request.body.required),
        content: Object.fromEntries(
          entry.body.map(([type, index]) => [type, { schema: at(requests, index) }]),
        ),
      };
    }
    operation.responses = Object.fromEntries(
      entry.responses.map(({ status, response, content }) => [
        status,
        {
          description: response.description,
          ...(response.headers ? { headers: response.headers } : {}),
          ...(content.length > 0
            ? {
                content: Object.fromEntries(
                  content.map(([type, index]) => [type, { schema: at(responses, index) }]),
                ),
              }
            : {}),
        },
      ]),
    );
    paths[route.path] = { ...paths[route.path], [route.method]: operation };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    ...(info.servers ? { servers: info.servers } : {}),
    ...(info.tags ? { tags: info.tags } : {}),
    paths,
    components: {
      schemas: components,
      ...(Object.keys(securitySchemes).length > 0 ? { securitySchemes } : {}),
    },
  };
}

/** The problem+json body every error response carries, as documented in OpenAPI. */
export const ProblemSchema = named(
  "Problem",
  z.object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    code: z.string(),
    message: z.string(),
    detail: z.string(),
    errors: z.optional(z.array(z.object({ field: z.string(), message: z.string() }))),
  }),
);

/** The header a 429 or a retryable 503 carries: how many seconds to wait before trying again. */
export const RETRY_AFTER_HEADER = {
  "Retry-After": {
    schema: { type: "integer" as const, minimum: 0 },
    description: "Seconds to wait before retrying",
  },
};

/** A route's required JSON request body, validated with `schema`. */
export const jsonBody = <S extends Schema>(schema: S) => ({
  required: true,
  content: { "application/json": { schema } },
});

/** An OpenAPI response entry whose body is JSON of `schema`. */
export const jsonContent = <S extends Schema>(description: string, schema: S) => ({
  description,
  content: { "application/json": { schema } },
});

/** An OpenAPI response entry for an error answered as application/problem+json. */
export const problemContent = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});
