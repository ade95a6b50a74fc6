/**
 * What LocalStack's SQS event source does to a message body before the consumer sees it:
 * `json.dumps(json.loads(body))` in Python, with the defaults (`", "` and `": "` as separators,
 * `ensure_ascii=True`, so every non-ASCII character becomes a lower-case `\uXXXX` escape and
 * characters outside the BMP a surrogate pair). The body must be JSON written by JavaScript (as
 * every event here is): a number token with a `.` or an exponent is a Python float, printed with
 * `repr`; any other is an int, printed as is.
 */
export function reencodeLikePython(body: string): string {
  return dumps(JSON.parse(body));
}

function dumps(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return pythonNumber(value);
  if (typeof value === "string") return pythonString(value);
  if (Array.isArray(value)) return `[${value.map(dumps).join(", ")}]`;
  if (typeof value === "object") {
    // Python dicts keep insertion order, as JSON.parse does for non-index keys.
    return `{${Object.entries(value)
      .map(([key, item]) => `${pythonString(key)}: ${dumps(item)}`)
      .join(", ")}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

function pythonNumber(value: number): string {
  const js = JSON.stringify(value);
  if (!/[.eE]/.test(js)) return js; // an int in Python
  // float.__repr__: the shortest round-trip digits (as JavaScript's), fixed notation for decimal
  // exponents from -4 to 15 (always with a fractional part), otherwise d.ddde±XX.
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 16) return js.includes(".") ? js : `${js}.0`;
  const sign = exponent < 0 ? "-" : "+";
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

function pythonString(value: string): string {
  let out = '"';
  // Iterating UTF-16 code units: an astral character comes out as its surrogate pair, as Python's.
  for (let i = 0; i < value.length; i++) {
    const char = value.charAt(i);
    const code = value.charCodeAt(i);
    const short = SHORT_ESCAPES[char];
    if (short) out += short;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}
