import { z } from "@hono/zod-openapi";

/** The problem+json body every error response carries, as documented in OpenAPI. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string(),
    message: z.string(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

/** The header a 429 or a retryable 503 carries: how many seconds to wait before trying again. */
export const RETRY_AFTER_HEADER = {
  "Retry-After": {
    schema: { type: "integer" as const, minimum: 0 },
    description: "Seconds to wait before retrying",
  },
};

/** An OpenAPI response entry for an error answered as application/problem+json. */
export const problemContent = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});
