import * as z from "zod/mini";
import { type Env, env, isRunningOnAws, parseEnv } from "./config";

/**
 * The metrics port: what business code counts, without knowing where it goes. On Lambda the
 * counts become CloudWatch EMF lines (metrics-emf.ts, flushed per invocation); under `npm start`
 * every process keeps a registry and the runtime serves their sum as Prometheus text.
 */

export type MetricUnit = "Count" | "Seconds";

export interface MetricDefinition<L extends string = string> {
  /** The CloudWatch metric name (CamelCase); the Prometheus name is derived from it. */
  name: string;
  /** One sentence for operators: what one unit of it is. */
  help: string;
  /** A counter only goes up (summed across processes); a gauge is a reading (the last one wins). */
  kind: "counter" | "gauge";
  unit: MetricUnit;
  /** Label names (CloudWatch dimensions); their values must come from small, fixed sets. */
  labels: readonly L[];
}

export type Labels<L extends string> = { readonly [K in L]: string };
type LabelArguments<L extends string> = [L] extends [never] ? [] : [labels: Labels<L>];

export function counter<const L extends string = never>(
  name: string,
  help: string,
  labels: readonly L[] = [],
): MetricDefinition<L> {
  return { name, help, kind: "counter", unit: "Count", labels };
}

export function gauge<const L extends string = never>(
  name: string,
  help: string,
  unit: MetricUnit,
  labels: readonly L[] = [],
): MetricDefinition<L> {
  return { name, help, kind: "gauge", unit, labels };
}

export interface Metrics {
  /** Adds `value` to a counter. */
  count<L extends string>(metric: MetricDefinition<L>, value: number, ...labels: LabelArguments<L>): void;
  /** Records the current reading of a gauge. */
  set<L extends string>(metric: MetricDefinition<L>, value: number, ...labels: LabelArguments<L>): void;
}

/** For code run without anyone collecting (scripts, tests that do not look). */
export const noMetrics: Metrics = { count: () => undefined, set: () => undefined };

/** One series: a metric with one set of label values. */
export interface MetricSample {
  metric: MetricDefinition;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const seriesKey = (name: string, labels: Readonly<Record<string, string>>) =>
  `${name}\u0000${Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join("\u0000")}`;

export interface MetricsRegistry extends Metrics {
  /** Every series recorded so far, in the order first seen. */
  snapshot(): MetricSample[];
  /** Takes every series recorded so far and starts afresh (one Lambda invocation's worth). */
  drain(): MetricSample[];
  /** Adds another process's series: counters are summed, gauges take the newer reading. */
  merge(samples: readonly MetricSample[]): void;
  /** The value of one series, 0 when nothing was recorded (tests, diagnostics). */
  valueOf<L extends string>(metric: MetricDefinition<L>, ...labels: LabelArguments<L>): number;
}

/** An in-memory registry: the embedded runtime's processes keep one each; tests read one. */
export function createMetricsRegistry(): MetricsRegistry {
  let series = new Map<string, MetricSample>();
  const record = (metric: MetricDefinition, value: number, labels: Record<string, string> = {}) => {
    if (!Number.isFinite(value)) return;
    const key = seriesKey(metric.name, labels);
    const existing = series.get(key);
    if (!existing) series.set(key, { metric, labels: { ...labels }, value });
    else existing.value = metric.kind === "counter" ? existing.value + value : value;
  };
  const registry: MetricsRegistry = {
    count(metric, value, ...labels) {
      record(metric as MetricDefinition, value, labels[0]);
    },
    set(metric, value, ...labels) {
      record(metric as MetricDefinition, value, labels[0]);
    },
    snapshot: () => [...series.values()].map((sample) => ({ ...sample })),
    drain() {
      const taken = [...series.values()];
      series = new Map();
      return taken;
    },
    merge(samples) {
      for (const sample of samples) record(sample.metric, sample.value, { ...sample.labels });
    },
    valueOf(metric, ...labels) {
      return series.get(seriesKey(metric.name, labels[0] ?? {}))?.value ?? 0;
    },
  };
  return registry;
}

const snakeCase = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

/** The Prometheus name of a metric: `platform_` + snake case + its unit or `_total` suffix. */
export function prometheusName(metric: MetricDefinition): string {
  const base = `platform_${snakeCase(metric.name)}`;
  if (metric.kind === "counter") return `${base}_total`;
  return metric.unit === "Seconds" ? `${base}_seconds` : base;
}

const escapeLabelValue = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * Prometheus text exposition (format 0.0.4) of `samples`, grouped under the declared metrics in
 * their order: every declared metric is listed (HELP and TYPE), an unlabelled one with 0 until it
 * was recorded, so a scrape shows what exists before anything happened.
 */
export function renderPrometheus(
  declared: readonly MetricDefinition[],
  samples: readonly MetricSample[],
): string {
  const lines: string[] = [];
  const known = new Map(declared.map((metric) => [metric.name, metric]));
  for (const sample of samples)
    if (!known.has(sample.metric.name)) known.set(sample.metric.name, sample.metric);
  for (const metric of known.values()) {
    const name = prometheusName(metric);
    lines.push(`# HELP ${name} ${escapeHelp(metric.help)}`, `# TYPE ${name} ${metric.kind}`);
    const own = samples.filter((sample) => sample.metric.name === metric.name);
    if (own.length === 0 && metric.labels.length === 0) lines.push(`${name} 0`);
    for (const sample of own) {
      const labels = Object.entries(sample.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key}="${escapeLabelValue(value)}"`)
        .join(",");
      lines.push(`${name}${labels ? `{${labels}}` : ""} ${sample.value}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** CloudWatch's rule for a namespace: its characters, and never AWS's own. */
const NAMESPACE = /^(?!AWS\/)[A-Za-z0-9.\-_/#: ]{1,255}$/;
const SERVICE = /^[A-Za-z0-9.\-_/#: ]{1,250}$/;

export interface MetricsConfig {
  /** POWERTOOLS_METRICS_NAMESPACE: the CloudWatch namespace (per stage on AWS). */
  namespace: string;
  /** POWERTOOLS_SERVICE_NAME: the `service` dimension of every metric this process writes. */
  service: string;
}

/**
 * Where a Lambda's metrics go, read under Powertools' own variable names so its documentation
 * applies (POWERTOOLS_METRICS_DISABLED=true silences them). On AWS the namespace is required: the
 * alarms watch the deployment's namespace, and metrics written anywhere else would page no one.
 */
export function loadMetricsConfig(source: Env, defaultService: string): MetricsConfig {
  const namespace = "expected a CloudWatch namespace (letters, digits, . - _ / # : and spaces; not AWS/...)";
  const service = "expected a service name (letters, digits, . - _ / # : and spaces)";
  const parsed = parseEnv(
    z.object({
      POWERTOOLS_METRICS_NAMESPACE: isRunningOnAws(source)
        ? env.string({ pattern: NAMESPACE, expected: `${namespace} (required on AWS)` })
        : env.string({ pattern: NAMESPACE, expected: namespace, default: "UsersWalletPlatform" }),
      POWERTOOLS_SERVICE_NAME: env.string({ pattern: SERVICE, expected: service, default: defaultService }),
    }),
    source,
  );
  return { namespace: parsed.POWERTOOLS_METRICS_NAMESPACE, service: parsed.POWERTOOLS_SERVICE_NAME };
}
