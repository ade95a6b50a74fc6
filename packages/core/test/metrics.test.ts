import { describe, expect, it } from "vitest";
import {
  ConfigError,
  counter,
  createMetricsRegistry,
  gauge,
  loadMetricsConfig,
  prometheusName,
  renderPrometheus,
} from "../src/index";

const POSTINGS = counter("Postings", "Postings answered.", ["type", "outcome"]);
const REGISTRATIONS = counter("Registrations", "Accounts registered.");
const LAG = gauge("RelayLag", "Age of the oldest pending row.", "Seconds");

describe("metrics registry", () => {
  it("sums counters per series and keeps a gauge's latest reading", () => {
    const registry = createMetricsRegistry();
    registry.count(POSTINGS, 1, { type: "credit", outcome: "created" });
    registry.count(POSTINGS, 2, { outcome: "created", type: "credit" }); // label order is no new series
    registry.count(POSTINGS, 1, { type: "debit", outcome: "insufficient_funds" });
    registry.set(LAG, 12.5);
    registry.set(LAG, 3);
    expect(registry.valueOf(POSTINGS, { type: "credit", outcome: "created" })).toBe(3);
    expect(registry.valueOf(POSTINGS, { type: "debit", outcome: "insufficient_funds" })).toBe(1);
    expect(registry.valueOf(POSTINGS, { type: "transfer", outcome: "created" })).toBe(0);
    expect(registry.valueOf(LAG)).toBe(3);
    expect(registry.snapshot()).toHaveLength(3);
  });

  it("adds up what several processes counted: counters summed, gauges the last one merged", () => {
    const users = [createMetricsRegistry(), createMetricsRegistry()];
    users[0]?.count(REGISTRATIONS, 2);
    users[1]?.count(REGISTRATIONS, 3);
    const main = createMetricsRegistry();
    main.set(LAG, 7);
    const total = createMetricsRegistry();
    for (const registry of [main, ...users]) total.merge(registry.snapshot());
    expect(total.valueOf(REGISTRATIONS)).toBe(5);
    expect(total.valueOf(LAG)).toBe(7);
    // A snapshot is a copy: merging did not change the processes' own counts.
    expect(users[0]?.valueOf(REGISTRATIONS)).toBe(2);
  });

  it("hands an invocation's counts over once (drain) and starts afresh", () => {
    const registry = createMetricsRegistry();
    registry.count(REGISTRATIONS, 1);
    expect(registry.drain()).toMatchObject([{ metric: REGISTRATIONS, value: 1 }]);
    expect(registry.drain()).toEqual([]);
    registry.count(REGISTRATIONS, 1);
    expect(registry.valueOf(REGISTRATIONS)).toBe(1);
  });

  it("ignores a value that is not a finite number rather than poison the series", () => {
    const registry = createMetricsRegistry();
    registry.set(LAG, Number.NaN);
    registry.count(REGISTRATIONS, Number.POSITIVE_INFINITY);
    expect(registry.snapshot()).toEqual([]);
  });
});

describe("Prometheus text", () => {
  /** A sample line of the text exposition format 0.0.4: name, optional labels, a number. */
  const SAMPLE =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? -?[0-9.e+]+$/;

  it("names counters *_total and second gauges *_seconds, under a platform_ prefix", () => {
    expect(prometheusName(POSTINGS)).toBe("platform_postings_total");
    expect(prometheusName(counter("DlqArrivals", "x"))).toBe("platform_dlq_arrivals_total");
    expect(prometheusName(LAG)).toBe("platform_relay_lag_seconds");
  });

  it("lists every declared metric, with 0 for an unlabelled one never recorded, and valid lines", () => {
    const registry = createMetricsRegistry();
    registry.count(POSTINGS, 4, { type: "credit", outcome: "created" });
    registry.count(POSTINGS, 1, { type: 'odd "quoted"\\ value\n', outcome: "error" });
    registry.set(LAG, 1.5);
    const text = renderPrometheus([REGISTRATIONS, POSTINGS, LAG], registry.snapshot());
    expect(text).toBe(
      [
        "# HELP platform_registrations_total Accounts registered.",
        "# TYPE platform_registrations_total counter",
        "platform_registrations_total 0",
        "# HELP platform_postings_total Postings answered.",
        "# TYPE platform_postings_total counter",
        'platform_postings_total{outcome="created",type="credit"} 4',
        'platform_postings_total{outcome="error",type="odd \\"quoted\\"\\\\ value\\n"} 1',
        "# HELP platform_relay_lag_seconds Age of the oldest pending row.",
        "# TYPE platform_relay_lag_seconds gauge",
        "platform_relay_lag_seconds 1.5",
        "",
      ].join("\n"),
    );
    for (const line of text
      .trimEnd()
      .split("\n")
      .filter((line) => !line.startsWith("#"))) {
      expect(line).toMatch(SAMPLE);
    }
  });
});

describe("metrics configuration", () => {
  it("writes to the platform's namespace outside AWS, under the function's own service name", () => {
    expect(loadMetricsConfig({}, "wallet-api")).toEqual({
      namespace: "UsersWalletPlatform",
      service: "wallet-api",
    });
    expect(
      loadMetricsConfig(
        { POWERTOOLS_METRICS_NAMESPACE: "shop/prod", POWERTOOLS_SERVICE_NAME: "wallet" },
        "x",
      ),
    ).toEqual({ namespace: "shop/prod", service: "wallet" });
  });

  it("needs a namespace on AWS and refuses AWS's own", () => {
    const onAws = { AWS_LAMBDA_FUNCTION_NAME: "fn" };
    expect(() => loadMetricsConfig(onAws, "x")).toThrow(ConfigError);
    expect(() => loadMetricsConfig(onAws, "x")).toThrow(/POWERTOOLS_METRICS_NAMESPACE: .*required on AWS/);
    expect(() => loadMetricsConfig({ POWERTOOLS_METRICS_NAMESPACE: "AWS/Lambda" }, "x")).toThrow(
      /POWERTOOLS_METRICS_NAMESPACE/,
    );
    expect(() => loadMetricsConfig({ POWERTOOLS_SERVICE_NAME: "a\u0000b" }, "x")).toThrow(
      /POWERTOOLS_SERVICE_NAME/,
    );
  });
});
