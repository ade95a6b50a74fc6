import * as z from "zod/mini";

/** C0 controls, DEL and C1 controls: NUL, line breaks, terminal escapes. */
const CONTROL_CHARACTER = /\p{Cc}/u;

/**
 * Free text that ends up in the database, logs and support tools refuses control characters
 * (PostgreSQL cannot even store NUL). The documented pattern is spelled out: a regex with a flag
 * would be rendered into the OpenAPI document with the flag appended, matching nothing.
 */
export function withoutControlCharacters<T extends z.ZodMiniString>(schema: T): T {
  return schema.check(
    z.refine((value: string) => !CONTROL_CHARACTER.test(value), {
      error: "must not contain control characters",
    }),
    z.meta({ pattern: "^\\P{Cc}*$" }),
  ) as T;
}
