import { AsyncLocalStorage } from "node:async_hooks";
import { safeErrorMessage, withoutQueryParameters } from "./error-text";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Per-request context (request id, correlation id) that every log line inside it carries. */
const context = new AsyncLocalStorage<LogFields>();

export function withLogContext<T>(fields: LogFields, run: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, run);
}

export function currentLogContext(): LogFields {
  return context.getStore() ?? {};
}

const SENSITIVE_KEY = /pass(word)?|secret|token|authorization|hash|signature|cookie/i;

/**
 * Never let a credential or a statement's parameters reach a log line, however deep they sit in
 * the fields: keys named like secrets are masked, errors keep only their name, a short code (an
 * SQLSTATE, an errno) and a message without parameters or quoted values (error-text.ts), and any
 * other text is cut before a database library's parameter list.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const { code } = value as { code?: unknown };
    return {
      name: value.name,
      message: safeErrorMessage(value),
      ...(typeof code === "string" && code.length <= 32 ? { code } : {}),
      ...(value.cause && depth <= 5 ? { cause: redact(value.cause, depth + 1) } : {}),
    };
  }
  if (typeof value === "string") return withoutQueryParameters(value);
  if (depth > 5 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) ? "[redacted]" : redact(inner, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  bindings?: LogFields;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = severity[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const bindings = options.bindings ?? {};

  const log = (level: Exclude<LogLevel, "silent">, message: string, fields?: LogFields) => {
    if (severity[level] < threshold) return;
    const entry = {
      level,
      time: new Date().toISOString(),
      message,
      ...bindings,
      ...currentLogContext(),
      ...(fields ? (redact(fields) as LogFields) : {}),
    };
    write(JSON.stringify(entry));
  };

  return {
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
    child: (more) => createLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}
