import { createHash } from "node:crypto";

/** Distinct statement texts prepared per process; beyond it statements run unnamed, as before. */
export const MAX_PREPARED_STATEMENTS = 500;

/**
 * Names parameterised statements after their text, so each connection parses and plans a hot
 * statement once and then only binds and executes it (PostgreSQL switches a prepared statement to
 * its cached generic plan after a few runs). Planning the posting statement cost as much as
 * running it. It works for any statement text the repositories write, without their knowing:
 * same text, same name. Statements without parameters (DDL, `begin`, pings) stay unnamed, and the
 * number of names is capped so that statements built with inlined values cannot grow the
 * server's per-connection caches without bound.
 */
export function createStatementNamer(limit = MAX_PREPARED_STATEMENTS) {
  const names = new Map<string, string>();
  return (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < limit) {
      name = `p_${createHash("sha256").update(text).digest("base64url").slice(0, 22)}`;
      names.set(text, name);
    }
    return name;
  };
}
