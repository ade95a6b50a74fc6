import { describe, expect, it } from "vitest";
import { captureEmf, readings } from "../../../test/support/emf";
import { counter, gauge } from "../src/index";
import { createEmfMetrics, flushedPerInvocation } from "../src/metrics-emf";

const POSTINGS = counter("Postings", "Postings answered.", ["type", "outcome"]);
const REGISTRATIONS = counter("Registrations", "Accounts registered.");
const LAG = gauge("RelayLag", "Age of the oldest pending row.", "Seconds");

describe("CloudWatch EMF through Powertools", () => {
  it("writes an invocation's counts when it ends, one document per set of label values", async () => {
    const { documents } = await captureEmf(async () => {
      const metrics = createEmfMetrics({ namespace: "shop-prod", service: "wallet-api" });
      const handler = flushedPerInvocation(metrics, async (_event: unknown, _context: unknown) => {
        metrics.count(POSTINGS, 1, { type: "credit", outcome: "created" });
        metrics.count(POSTINGS, 1, { type: "credit", outcome: "created" });
        metrics.count(POSTINGS, 1, { type: "debit", outcome: "insufficient_funds" });
        metrics.count(REGISTRATIONS, 1);
        metrics.set(LAG, 4);
        return "answered";
      });
      expect(await handler({}, {})).toBe("answered");
      // Nothing recorded: nothing written, not even an empty document.
      await flushedPerInvocation(metrics, async () => undefined)({}, {});
    });
    expect(readings(documents, "Postings")).toEqual([
      {
        namespace: "shop-prod",
        unit: "Count",
        dimensions: { service: "wallet-api", type: "credit", outcome: "created" },
        value: 2,
      },
      {
        namespace: "shop-prod",
        unit: "Count",
        dimensions: { service: "wallet-api", type: "debit", outcome: "insufficient_funds" },
        value: 1,
      },
    ]);
    // Unlabelled metrics share one document, with the service dimension alone.
    expect(documents).toHaveLength(3);
    expect(readings(documents, "Registrations")).toEqual([
      { namespace: "shop-prod", unit: "Count", dimensions: { service: "wallet-api" }, value: 1 },
    ]);
    expect(readings(documents, "RelayLag")).toEqual([
      { namespace: "shop-prod", unit: "Seconds", dimensions: { service: "wallet-api" }, value: 4 },
    ]);
  });

  it("writes them when the invocation throws too, and starts the next one empty", async () => {
    const { documents } = await captureEmf(async () => {
      const metrics = createEmfMetrics({ namespace: "shop-prod", service: "outbox-relay" });
      const failing = flushedPerInvocation(metrics, async (_event: unknown, _context: unknown) => {
        metrics.count(REGISTRATIONS, 1);
        throw new Error("database down");
      });
      await expect(failing({}, {})).rejects.toThrow("database down");
      await expect(failing({}, {})).rejects.toThrow("database down");
    });
    expect(readings(documents, "Registrations").map((reading) => reading.value)).toEqual([1, 1]);
  });

  it("never lets a failure to write metrics change an invocation's answer", async () => {
    const broken = { flush: () => Promise.reject(new Error("stdout closed")) };
    const errors: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      errors.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(
        await flushedPerInvocation(broken, async (_event: unknown, _context: unknown) => "answered")({}, {}),
      ).toBe("answered");
    } finally {
      process.stderr.write = original;
    }
    expect(errors.map((line) => JSON.parse(line))).toEqual([
      { level: "warn", message: "metrics not written", reason: "stdout closed" },
    ]);
  });

  it("writes nothing when POWERTOOLS_METRICS_DISABLED is true (as in these tests' setup)", async () => {
    const lines: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const metrics = createEmfMetrics({ namespace: "shop-prod", service: "users-api" });
      metrics.count(REGISTRATIONS, 1);
      await metrics.flush();
    } finally {
      process.stdout.write = original;
    }
    expect(process.env.POWERTOOLS_METRICS_DISABLED).toBe("true");
    expect(lines.filter((line) => line.includes('"_aws"'))).toEqual([]);
  });
});
