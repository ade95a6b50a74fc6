import type { SQL } from "drizzle-orm";
import { CasingCache } from "drizzle-orm/casing";
import { DatabaseQueryError } from "../errors";

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

/** Runs a round trip, turning a failure into a DatabaseQueryError (no parameters in it). */
export async function attempt<T>(text: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw new DatabaseQueryError(text, error);
  }
}
