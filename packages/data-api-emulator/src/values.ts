import pg from "pg";
import { BadRequestError } from "./errors";

/** The Data API's value union, as the SDK serialises it (blobs as base64). */
export interface Field {
  isNull?: boolean;
  booleanValue?: boolean;
  longValue?: number;
  doubleValue?: number;
  stringValue?: string;
  blobValue?: string;
  arrayValue?: ArrayValue;
}

export interface ArrayValue {
  booleanValues?: boolean[];
  longValues?: number[];
  doubleValues?: number[];
  stringValues?: string[];
  arrayValues?: ArrayValue[];
}

export interface SqlParameter {
  name?: string;
  value?: Field;
  typeHint?: string;
}

export interface ResultSetOptions {
  decimalReturnType?: "STRING" | "DOUBLE_OR_LONG";
  longReturnType?: "LONG" | "STRING";
}

// The Data API binds parameters through JDBC: strings as varchar, longs as int8. PostgreSQL does
// not infer a uuid/jsonb/timestamptz from those, which is exactly the strictness offline code
// must meet before it runs on AWS. A type hint turns a string into the hinted type instead.
const HINT_CASTS: Record<string, string> = {
  UUID: "::uuid",
  TIMESTAMP: "::timestamp",
  DATE: "::date",
  TIME: "::time",
  JSON: "::json",
  DECIMAL: "::numeric",
};

// AWS parses hinted date/time strings itself (java.time) before they reach PostgreSQL, and only
// in these forms: an ISO "T" or a zone is refused instead of being interpreted.
const HINT_FORMATS: Record<string, RegExp> = {
  TIMESTAMP: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
  DATE: /^\d{4}-\d{2}-\d{2}$/,
  TIME: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
};

export interface BoundParameter {
  cast: string;
  value: unknown;
}

export function bindParameter(parameter: SqlParameter): BoundParameter {
  const { value, typeHint } = parameter;
  if (typeHint !== undefined && !(typeHint in HINT_CASTS)) {
    throw new BadRequestError(`Invalid typeHint ${typeHint} for parameter ${parameter.name}`);
  }
  const hinted = typeHint ? HINT_CASTS[typeHint] : undefined;
  if (!value || typeof value !== "object") {
    throw new BadRequestError(`Parameter ${parameter.name} has no value`);
  }
  if (value.isNull === true) return { cast: hinted ?? "", value: null };
  if (typeof value.stringValue === "string") {
    const format = typeHint ? HINT_FORMATS[typeHint] : undefined;
    if (format && !format.test(value.stringValue)) {
      throw new BadRequestError(
        `Text '${value.stringValue}' could not be parsed as ${typeHint} for parameter ${parameter.name}`,
      );
    }
    return { cast: hinted ?? "::varchar", value: value.stringValue };
  }
  if (typeof value.longValue === "number") {
    if (!Number.isInteger(value.longValue)) {
      throw new BadRequestError(`Parameter ${parameter.name}: longValue must be an integer`);
    }
    return { cast: "::int8", value: String(value.longValue) };
  }
  if (typeof value.doubleValue === "number") return { cast: "::float8", value: value.doubleValue };
  if (typeof value.booleanValue === "boolean") return { cast: "::bool", value: value.booleanValue };
  if (typeof value.blobValue === "string") {
    return { cast: "::bytea", value: Buffer.from(value.blobValue, "base64") };
  }
  if (value.arrayValue !== undefined) throw new BadRequestError("Array parameters are not supported.");
  throw new BadRequestError(`Parameter ${parameter.name} has no value`);
}

// PostgreSQL type OIDs the conversion cares about (pg_type.oid, stable across versions).
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  float4: 700,
  float8: 701,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
} as const;

const ARRAY_ELEMENT: Record<number, number> = {
  1000: OID.bool,
  1001: OID.bytea,
  1005: OID.int2,
  1007: OID.int4,
  1016: OID.int8,
  1021: OID.float4,
  1022: OID.float8,
  1182: OID.date,
  1183: OID.time,
  1115: OID.timestamp,
  1185: OID.timestamptz,
  1231: OID.numeric,
};
// Any other array (text[], varchar[], uuid[], jsonb[] …) comes back as strings.
const STRING_ARRAYS = new Set([1009, 1015, 1014, 2951, 199, 3807, 1041, 651, 1040, 1028]);

export const TYPE_NAMES: Record<number, string> = {
  16: "bool",
  17: "bytea",
  18: "char",
  19: "name",
  20: "int8",
  21: "int2",
  23: "int4",
  25: "text",
  26: "oid",
  114: "json",
  700: "float4",
  701: "float8",
  1042: "bpchar",
  1043: "varchar",
  1082: "date",
  1083: "time",
  1114: "timestamp",
  1184: "timestamptz",
  1186: "interval",
  1700: "numeric",
  2950: "uuid",
  3802: "jsonb",
};

// java.sql.Types codes, as the Data API reports them in columnMetadata.type.
const JDBC_TYPES: Record<number, number> = {
  16: -7,
  17: -2,
  20: -5,
  21: 5,
  23: 4,
  26: -5,
  700: 7,
  701: 8,
  1043: 12,
  25: 12,
  1042: 1,
  1082: 91,
  1083: 92,
  1114: 93,
  1184: 93,
  1700: 2,
};

export function typeName(oid: number): string {
  if (TYPE_NAMES[oid]) return TYPE_NAMES[oid];
  if (ARRAY_ELEMENT[oid] !== undefined || STRING_ARRAYS.has(oid)) {
    const element = ARRAY_ELEMENT[oid];
    return `_${element !== undefined ? (TYPE_NAMES[element] ?? "unknown") : "text"}`;
  }
  return "unknown";
}

export function jdbcType(oid: number): number {
  if (ARRAY_ELEMENT[oid] !== undefined || STRING_ARRAYS.has(oid)) return 2003;
  return JDBC_TYPES[oid] ?? 1111;
}

/**
 * The connection runs with TimeZone=UTC, so PostgreSQL already prints timestamptz in UTC; the
 * Data API drops the zone ("2024-05-01 10:00:00.123456"), so this does too.
 */
function timestampText(raw: string): string {
  return raw.replace(/([+-]\d\d(:\d\d){0,2})$/, "");
}

/** A JS value for formatRecordsAs JSON (numbers stay numbers, everything else as in records). */
export function toJsonValue(raw: string | null, oid: number, options: ResultSetOptions): unknown {
  const field = toField(raw, oid, options);
  if (field.isNull) return null;
  if (field.arrayValue) return flattenArray(field.arrayValue);
  return field.booleanValue ?? field.longValue ?? field.doubleValue ?? field.stringValue ?? field.blobValue;
}

function flattenArray(array: ArrayValue): unknown[] {
  if (array.arrayValues) return array.arrayValues.map(flattenArray);
  return array.booleanValues ?? array.longValues ?? array.doubleValues ?? array.stringValues ?? [];
}

/** Converts one column of a row (PostgreSQL text format) into the Data API's value union. */
export function toField(raw: string | null, oid: number, options: ResultSetOptions): Field {
  if (raw === null) return { isNull: true };
  switch (oid) {
    case OID.bool:
      return { booleanValue: raw === "t" };
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
      return options.longReturnType === "STRING" ? { stringValue: raw } : { longValue: Number(raw) };
    case OID.float4:
    case OID.float8:
      return { doubleValue: Number(raw) };
    case OID.numeric:
      if (options.decimalReturnType === "DOUBLE_OR_LONG") {
        return /^-?\d+$/.test(raw) ? { longValue: Number(raw) } : { doubleValue: Number(raw) };
      }
      return { stringValue: raw };
    case OID.bytea:
      return { blobValue: (pg.types.getTypeParser(OID.bytea)(raw) as Buffer).toString("base64") };
    case OID.timestamp:
    case OID.timestamptz:
      return { stringValue: timestampText(raw) };
  }
  const element = ARRAY_ELEMENT[oid];
  if (element !== undefined || STRING_ARRAYS.has(oid)) {
    const parsed = parseArray(raw);
    return { arrayValue: toArrayValue(parsed, element, options) };
  }
  return { stringValue: raw };
}

type Nested = Array<string | null | Nested>;

function parseArray(raw: string): Nested {
  // pg's text[] parser keeps elements as strings (or nested arrays), which is what we convert.
  const parserFor = pg.types.getTypeParser as (oid: number) => (value: string) => unknown;
  return parserFor(1009)(raw) as Nested;
}

function toArrayValue(items: Nested, element: number | undefined, options: ResultSetOptions): ArrayValue {
  if (items.some((item) => Array.isArray(item))) {
    return {
      arrayValues: items.map((item) => toArrayValue(Array.isArray(item) ? item : [], element, options)),
    };
  }
  const fields = items.map((item) => toField(item as string | null, element ?? 25, options));
  const pick = <K extends keyof Field>(key: K) =>
    fields.map((field) => field[key]) as NonNullable<Field[K]>[];
  if (fields.length === 0) return { stringValues: [] };
  if (fields[0]?.booleanValue !== undefined) return { booleanValues: pick("booleanValue") };
  if (fields[0]?.longValue !== undefined) return { longValues: pick("longValue") };
  if (fields[0]?.doubleValue !== undefined) return { doubleValues: pick("doubleValue") };
  return { stringValues: pick("stringValue") };
}
