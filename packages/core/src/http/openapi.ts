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

/** An OpenAPI response entry for an error answered as application/problem+json. */
export const problemContent = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});
