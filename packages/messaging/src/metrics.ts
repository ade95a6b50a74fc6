import { counter, gauge } from "@platform/core/metrics";

// What an operator watches on the event path. Label values come from fixed sets: event types the
// catalogue knows, `eager`/`relay`, tier numbers, and the reasons below.

export const EVENTS_PUBLISHED = counter(
  "EventsPublished",
  "Events the queue accepted, by event type and path: eager (right after the write) or relay (the sweep).",
  ["type", "via"],
);

export const EVENT_PUBLISH_FAILURES = counter(
  "EventPublishFailures",
  "Outbox rows a send did not deliver: retry (left pending, the relay tries again after a backoff) or rejected (no consumer can take it, marked failed).",
  ["via", "kind"],
);

export const EVENT_RETRIES = counter(
  "EventRetries",
  "Deliveries the consumer failed and put back for a retry, by the tier they wait in (1 = first retry; dlq = the last tier again while the DLQ is unreachable).",
  ["tier"],
);

export const DLQ_ARRIVALS = counter(
  "DlqArrivals",
  "Messages the consumer moved to the DLQ: poison (signature, schema, type) or exhausted (the retry ladder ended).",
  ["reason"],
);

export const RELAY_LAG = gauge(
  "RelayLag",
  "Age of the oldest outbox row still pending after a relay run; 0 when none is.",
  "Seconds",
);

export const MESSAGING_METRICS = [
  EVENTS_PUBLISHED,
  EVENT_PUBLISH_FAILURES,
  EVENT_RETRIES,
  DLQ_ARRIVALS,
  RELAY_LAG,
];
