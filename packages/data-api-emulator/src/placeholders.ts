/**
 * Rewrites the Data API's `:name` placeholders into PostgreSQL's positional `$n`, leaving alone
 * what only looks like one: `::casts`, string literals ('…', E'…', $tag$…$tag$), quoted
 * identifiers and comments. `cast(name)` gives the cast appended to that parameter's `$n` (e.g.
 * `::uuid`), or undefined for a name that is no parameter (left as written, so PostgreSQL reports
 * it). The same name used twice maps to the same `$n`.
 */
export function rewritePlaceholders(
  sqlText: string,
  cast: (name: string) => string | undefined,
): { text: string; order: string[] } {
  const order: string[] = [];
  let out = "";
  let i = 0;
  const n = sqlText.length;
  while (i < n) {
    const ch = sqlText[i] as string;
    const next = sqlText[i + 1];
    if (ch === "-" && next === "-") {
      const end = sqlText.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      out += sqlText.slice(i, stop);
      i = stop;
    } else if (ch === "/" && next === "*") {
      const stop = skipBlockComment(sqlText, i);
      out += sqlText.slice(i, stop);
      i = stop;
    } else if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(sqlText[i - 1] as string) && !isIdentChar(sqlText[i - 2]);
      const stop = skipQuoted(sqlText, i, "'", escapes);
      out += sqlText.slice(i, stop);
      i = stop;
    } else if (ch === '"') {
      const stop = skipQuoted(sqlText, i, '"', false);
      out += sqlText.slice(i, stop);
      i = stop;
    } else if (ch === "$" && !isIdentChar(sqlText[i - 1])) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sqlText.slice(i));
      if (tag) {
        const close = sqlText.indexOf(tag[0], i + tag[0].length);
        const stop = close === -1 ? n : close + tag[0].length;
        out += sqlText.slice(i, stop);
        i = stop;
      } else {
        out += ch;
        i += 1;
      }
    } else if (ch === ":" && next === ":") {
      out += "::";
      i += 2;
    } else if (ch === ":" && next !== undefined && isIdentChar(next)) {
      const match = /^[A-Za-z0-9_]+/.exec(sqlText.slice(i + 1)) as RegExpExecArray;
      const name = match[0];
      const replacement = cast(name);
      if (replacement === undefined) {
        out += `:${name}`;
      } else {
        let index = order.indexOf(name);
        if (index === -1) index = order.push(name) - 1;
        out += `$${index + 1}${replacement}`;
      }
      i += 1 + name.length;
    } else {
      out += ch;
      i += 1;
    }
  }
  return { text: out, order };
}

function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

function skipQuoted(text: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (backslashEscapes && ch === "\\") {
      i += 2;
    } else if (ch === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return text.length;
}

/** PostgreSQL block comments nest. */
function skipBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth += 1;
      i += 2;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return text.length;
}
