/**
 * Error text that is safe to log, store or return to an operator. Database libraries quote what a
 * statement was given: drizzle's query error ends with "params: …" (a password hash, an email,
 * names), PostgreSQL's detail says "Key (email)=(…)" or "Failing row contains (…)", and its data
 * exceptions quote the value they refused. None of that may leave the process.
 */

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** SQLSTATE of a database error, whatever the driver wrapped it in. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 6; depth += 1) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string" && SQLSTATE.test(code)) return code;
    // The Data API reports SQL errors as DatabaseErrorException, SQLSTATE at the end of the message.
    const fromMessage = typeof message === "string" ? /SQLState: ([0-9A-Z]{5})/.exec(message) : null;
    if (fromMessage?.[1]) return fromMessage[1];
    current = cause;
  }
  return undefined;
}

/** drizzle's "Failed query: <sql>\nparams: <values>": the statement is kept, its values never. */
const QUERY_PARAMETERS = /\nparams:[\s\S]*$/;

/** The parts of PostgreSQL's report that quote row values (the Data API puts them in its message). */
const VALUE_SECTIONS = /\n\s*(?:Detail|Where|Hint):[\s\S]*?(?=\n\s*[A-Z][a-z]+:|; SQLState: |$)/g;

/**
 * PostgreSQL quotes names and values alike: `constraint "users_email_key"` names an object, while
 * `for type uuid: "…"` or `value "…" is out of range` quotes what the statement was given. Only
 * a quoted span after a word that introduces an object's name survives.
 */
const QUOTED =
  /(\b(?:constraint|column|relation|table|index|schema|function|type|encoding|database|role|sequence|trigger|view|extension|operator|domain|cursor|savepoint|portal|statement|tablespace)\s+)?"(?:[^"]|"")*"/gi;

function isDatabaseError(error: object, message: string): boolean {
  const { code, severity, name } = error as { code?: unknown; severity?: unknown; name?: unknown };
  return (
    (typeof code === "string" && SQLSTATE.test(code) && typeof severity === "string") ||
    name === "DatabaseErrorException" ||
    message.includes("SQLState: ")
  );
}

function withoutQuotedValues(message: string): string {
  return message
    .replace(VALUE_SECTIONS, "")
    .replace(QUOTED, (match, objectWord: string | undefined) => (objectWord ? match : '"[redacted]"'));
}

/** Collapses the whitespace of a statement quoted in a message and bounds its length. */
const compact = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 600);

/**
 * The message of an error with statement parameters and quoted values taken out: drizzle's
 * parameter list, and for database errors (node-postgres' or the Data API's) the detail sections
 * and every quoted value. Other errors keep their message.
 */
export function safeErrorMessage(error: unknown): string {
  if (!(error instanceof Error) && (typeof error !== "object" || error === null)) return String(error);
  const raw = String((error as { message?: unknown }).message ?? "");
  if (QUERY_PARAMETERS.test(raw) || "params" in error) {
    return compact(raw.replace(QUERY_PARAMETERS, ""));
  }
  return isDatabaseError(error, raw) ? withoutQuotedValues(raw) : raw;
}

/** "<name>: <safe message>", short enough for a log line, a DLQ attribute or a column. */
export function describeErrorSafely(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${safeErrorMessage(error)}`.slice(0, 1000);
  return safeErrorMessage(error).slice(0, 1000);
}

/**
 * A string that may carry a database library's error text (a reason computed elsewhere): the
 * parameter list is cut off. The logger applies it to every string it writes.
 */
export function withoutQueryParameters(text: string): string {
  return text.replace(QUERY_PARAMETERS, "\nparams: [redacted]");
}
