import { vi } from "vitest";

/** One CloudWatch EMF document as Powertools writes it: `_aws` metadata, then the values. */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [member: string]: unknown;
}

/**
 * The EMF lines written to standard output while `work` runs, as a Lambda's log stream receives
 * them. Powertools writes them only when POWERTOOLS_METRICS_DISABLED is not set to true when its
 * writer is built (the test setup sets it): build the handler inside `work`.
 */
export async function captureEmf<T>(
  work: () => Promise<T>,
): Promise<{ result: T; documents: EmfDocument[] }> {
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk, ...rest) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      lines.push(...text.split("\n").filter((line) => line.includes('"_aws"')));
      return true;
    }
    return write(chunk, ...(rest as []));
  });
  try {
    const result = await work();
    return { result, documents: lines.map((line) => JSON.parse(line) as EmfDocument) };
  } finally {
    spy.mockRestore();
    vi.unstubAllEnvs();
  }
}

/** The documents that carry `metric`, reduced to what an alarm or a dashboard reads. */
export function readings(documents: readonly EmfDocument[], metric: string) {
  return documents
    .filter((document) => document._aws.CloudWatchMetrics[0]?.Metrics.some((entry) => entry.Name === metric))
    .map((document) => {
      const [directive] = document._aws.CloudWatchMetrics;
      const dimensions = Object.fromEntries(
        (directive?.Dimensions[0] ?? []).map((name) => [name, document[name]]),
      );
      return {
        namespace: directive?.Namespace,
        unit: directive?.Metrics.find((entry) => entry.Name === metric)?.Unit,
        dimensions,
        value: document[metric],
      };
    });
}
