import { is, Param, Placeholder, type SQL } from "drizzle-orm";
import { CasingCache } from "drizzle-orm/casing";
import { DatabaseQueryError } from "../errors";
import type { PlaceholderValues } from "../types";

export interface RenderedStatement {
  text: string;
  params: unknown[];
}

const casing = new CasingCache();

/**
 * The text and parameters of a statement written with drizzle-orm's `sql` template, escaped as
 * drizzle's PostgreSQL dialect escapes them, with the driver's placeholders (`$1` for
 * node-postgres, `:1` for the Data API). Rendering here, rather than through a drizzle database
 * object, keeps drizzle's query builders and driver sessions out of the Lambda bundles.
 */
export function render(statement: SQL, placeholder: (index: number) => string): RenderedStatement {
  const { sql, params } = statement.toQuery({
    casing,
    escapeName: (name) => `"${name.replace(/"/g, '""')}"`,
    escapeParam: placeholder,
    escapeString: (text) => `'${text.replace(/'/g, "''")}'`,
  });
  return { text: sql, params };
}

interface RenderedPrepared {
  text: string;
  /** The parameters for one run: each placeholder's value, the statement's own values as they are. */
  bind(values: PlaceholderValues): unknown[];
}

/**
 * Renders a statement with `sql.placeholder(name)`s (see `Database.prepare`). Only plain
 * placeholders are bound: one wrapped in a column's encoder (drizzle's `eq(column, placeholder)`)
 * would need that encoder at every run, and the repositories write casts instead.
 */
export function renderPrepared(statement: SQL, placeholder: (index: number) => string): RenderedPrepared {
  const { text, params } = render(statement, placeholder);
  const slots = params.map((param): { name: string } | { value: unknown } => {
    if (is(param, Placeholder)) return { name: param.name };
    if (is(param, Param) && is(param.value, Placeholder)) {
      throw new TypeError(
        `placeholder "${param.value.name}" is wrapped in a column encoder; write it as a cast parameter`,
      );
    }
    return { value: param };
  });
  return {
    text,
    bind: (values) =>
      slots.map((slot) => {
        if (!("name" in slot)) return slot.value;
        const value = values[slot.name];
        if (value === undefined) throw new TypeError(`no value for placeholder "${slot.name}"`);
        return value;
      }),
  };
}

/**
 * `make()` on the first call, the same value after. A prepared statement renders on its first run,
 * not when it is prepared: a repository prepares every hot statement when it is built, and most
 * of its builders (a Lambda's init, the provisioner's every event) run one or none of them.
 */
export function onFirstUse<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** Runs a round trip, turning a failure into a DatabaseQueryError (no parameters in it). */
export async function attempt<T>(text: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw new DatabaseQueryError(text, error);
  }
}
