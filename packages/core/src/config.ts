import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

// zod's mini API loads no locale, so every message would read "Invalid input". Every process reads
// its configuration through this module before it parses anything, so English is set here, once.
z.config(en());

export type Env = Record<string, string | undefined>;

export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** Thrown at start-up when the environment does not describe a runnable process. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** True inside a Lambda container: development defaults (challenge secrets) are refused there. */
export function isRunningOnAws(env: Env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

/**
 * Parses `env` with a schema whose keys are variable names. Empty strings count as unset so that
 * `FOO=` in a shell or compose file falls back to the default instead of failing obscurely.
 */
export function parseEnv<S extends z.ZodMiniObject>(schema: S, env: Env): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") input[key] = value.trim();
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? "(environment)");
      const got = input[variable];
      const shown = got === undefined ? "unset" : `got ${JSON.stringify(redactIfSecret(variable, got))}`;
      return { variable, problem: `${issue.message} (${shown})` };
    }),
  );
}

/**
 * Runs several loaders and reports all their problems at once: whoever fixes a configuration
 * should see every faulty variable in one go, not one per restart.
 */
export function loadAll<T extends Record<string, () => unknown>>(
  loaders: T,
): { [K in keyof T]: ReturnType<T[K]> } {
  const problems: ConfigProblem[] = [];
  const result: Record<string, unknown> = {};
  for (const [name, load] of Object.entries(loaders)) {
    try {
      result[name] = load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result as { [K in keyof T]: ReturnType<T[K]> };
}

function redactIfSecret(variable: string, value: string): string {
  return /KEY|SECRET|PASSWORD|TOKEN/i.test(variable) ? "<redacted>" : value;
}

/** A default for a schema, or the schema itself when there is none. */
function withDefault<T extends z.ZodMiniType>(schema: T, value: z.output<T> | undefined) {
  return value === undefined ? schema : z._default(schema, value as never);
}

/** Field builders that carry the expected form in their error message. */
export const env = {
  integer(options: { min: number; max: number; default?: number }) {
    const error = `expected an integer from ${options.min} to ${options.max}`;
    const schema = z.coerce
      .number({ error })
      .check(z.int({ error }), z.minimum(options.min, { error }), z.maximum(options.max, { error }));
    return withDefault(schema, options.default);
  },
  port(defaultPort: number) {
    return env.integer({ min: 0, max: 65535, default: defaultPort });
  },
  string(options: { default?: string; minLength?: number; pattern?: RegExp; expected?: string } = {}) {
    const error = options.expected ?? `expected a string of at least ${options.minLength ?? 1} characters`;
    const schema = z.string({ error }).check(z.minLength(options.minLength ?? 1, { error }));
    return withDefault(
      options.pattern ? schema.check(z.regex(options.pattern, { error })) : schema,
      options.default,
    );
  },
  oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue?: T[number]) {
    return withDefault(
      z.enum(values, { error: `expected one of ${values.join(", ")}` }),
      defaultValue as never,
    );
  },
  url(options: { default?: string; protocols?: string[] } = {}) {
    const protocols = options.protocols ?? ["http", "https"];
    const error = `expected a URL (${protocols.map((p) => `${p}://`).join(" or ")}...)`;
    const schema = z.string({ error }).check(
      z.refine((value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ""));
        } catch {
          return false;
        }
      }, error),
    );
    return withDefault(schema, options.default);
  },
  /**
   * A secret with a development default that is only accepted outside AWS: a deployed function
   * must be given the real value (through an SST secret) and it must be long enough to resist
   * brute force of HMAC tags.
   */
  secret(options: { devDefault: string; onAws: boolean }) {
    if (options.onAws) {
      const error = "expected a secret of at least 32 characters (required on AWS)";
      return z.string({ error }).check(z.minLength(32, { error }));
    }
    const error = "expected a non-empty secret";
    return z._default(z.string({ error }).check(z.minLength(1, { error })), options.devDefault);
  },
  boolean(defaultValue: boolean) {
    return z.pipe(
      z._default(
        z.enum(["true", "false", "1", "0"], { error: "expected true or false" }),
        defaultValue ? "true" : "false",
      ),
      z.transform((value: "true" | "false" | "1" | "0") => value === "true" || value === "1"),
    );
  },
};

export const CHALLENGE_JWT_PRIVATE_KEY = "ILIACHALLENGE";
export const CHALLENGE_INTERNAL_JWT_PRIVATE_KEY = "ILIACHALLENGE_INTERNAL";
