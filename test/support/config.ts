import { ConfigError } from "@platform/core";
import { expect } from "vitest";

/** Runs a configuration loader that must fail and returns the variables its error names. */
export function failingVariables(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => problem.variable);
  }
  throw new Error("expected a ConfigError");
}
