import type { Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import type { Env } from "./config";
import {
  createMetricsRegistry,
  loadMetricsConfig,
  type MetricSample,
  type Metrics,
  type MetricUnit as Unit,
} from "./metrics";

/** Powertools' names for our units (values of its `MetricUnit`). */
const EMF_UNITS = { Count: "Count", Seconds: "Seconds" } as const satisfies Record<Unit, string>;

/** The metrics of one Lambda container: recorded during an invocation, written at its end. */
export interface EmfMetrics extends Metrics {
  /** Writes what the invocation recorded as CloudWatch EMF lines on standard output, and forgets it. */
  flush(): Promise<void>;
}

/**
 * CloudWatch metrics through Powertools' EMF writer: the invocation's counts are kept in memory
 * and, at its end, written as one EMF document per set of label values (a document gives every
 * metric in it the same dimensions), each with the `service` dimension. Values recorded several
 * times in an invocation are summed (counters) or the last kept (gauges), so a batch of ten
 * events is one line, not ten. Powertools is loaded when there is a first line to write, not at
 * the container's init (it is in the cold start of every function otherwise).
 */
export function createEmfMetrics(options: { namespace: string; service: string }): EmfMetrics {
  const recorded = createMetricsRegistry();
  let writer: Promise<PowertoolsMetrics> | undefined;
  return {
    count: recorded.count,
    set: recorded.set,
    async flush() {
      const samples = recorded.drain();
      if (samples.length === 0) return;
      writer ??= import("@aws-lambda-powertools/metrics").then(
        ({ Metrics }) => new Metrics({ namespace: options.namespace, serviceName: options.service }),
      );
      const emf = await writer;
      const byLabels = new Map<string, MetricSample[]>();
      for (const sample of samples) {
        const key = JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b)));
        byLabels.set(key, [...(byLabels.get(key) ?? []), sample]);
      }
      for (const group of byLabels.values()) {
        for (const [name, value] of Object.entries(group[0]?.labels ?? {})) emf.addDimension(name, value);
        for (const { metric, value } of group) emf.addMetric(metric.name, EMF_UNITS[metric.unit], value);
        emf.publishStoredMetrics();
      }
    },
  };
}

/**
 * Writes the metrics of each invocation when it ends, whether it answered or threw. Metrics never
 * decide an invocation's outcome: a failure to write them is reported on standard error only.
 */
export function flushedPerInvocation<E, C, R>(
  metrics: Pick<EmfMetrics, "flush">,
  handler: (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  return async (event, context) => {
    try {
      return await handler(event, context);
    } finally {
      await metrics.flush().catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        process.stderr.write(
          `${JSON.stringify({ level: "warn", message: "metrics not written", reason })}\n`,
        );
      });
    }
  };
}

export interface LambdaMetrics {
  metrics: Metrics;
  /** The handler, writing the invocation's metrics when it ends (when they are EMF). */
  perInvocation<E, C, R>(handler: (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R>;
}

/**
 * The metrics a Lambda handler builder records into: the ones it was given (the embedded runtime's
 * registry, a test's), or CloudWatch EMF per POWERTOOLS_METRICS_NAMESPACE and
 * POWERTOOLS_SERVICE_NAME (validated now, at init), written when each invocation ends.
 */
export function lambdaMetrics(env: Env, defaultService: string, given?: Metrics): LambdaMetrics {
  if (given) return { metrics: given, perInvocation: (handler) => handler };
  const emf = createEmfMetrics(loadMetricsConfig(env, defaultService));
  return { metrics: emf, perInvocation: (handler) => flushedPerInvocation(emf, handler) };
}
