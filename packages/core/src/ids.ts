const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users, entries and events are identified by UUIDs; anything else never reaches a `::uuid` cast. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
