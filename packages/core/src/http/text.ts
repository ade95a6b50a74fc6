import * as z from "zod/mini";

/** C0 controls, DEL and C1 controls: NUL, line breaks, terminal escapes. */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** A surrogate on its own (in unicode mode a well-formed pair reads as one other code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The same control characters (U+0000–U+001F, U+007F–U+009F) as JSON Schema's flagless pattern:
 * `^\P{Cc}*$` would need the `u` flag, and written with it the OpenAPI document would carry a
 * pattern ending in a literal "/u", which matches nothing.
 */
export const NO_CONTROL_CHARACTERS_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/**
 * Free text that ends up in the database, logs and support tools: no control characters
 * (PostgreSQL cannot even store NUL, and line breaks or terminal escapes forge log lines), and
 * well-formed Unicode only (a lone surrogate would be stored as U+FFFD: the text would change
 * without anyone noticing). `meta` goes into the OpenAPI document with the pattern.
 */
export function plainText<T extends z.ZodMiniString>(schema: T, meta: Record<string, unknown> = {}): T {
  return schema.check(
    z.refine((value: string) => !CONTROL_CHARACTER.test(value), {
      error: "must not contain control characters",
    }),
    z.refine((value: string) => !LONE_SURROGATE.test(value), {
      error: "must be well-formed Unicode (no unpaired surrogate)",
    }),
    z.meta({ pattern: NO_CONTROL_CHARACTERS_PATTERN, ...meta }),
  ) as T;
}
