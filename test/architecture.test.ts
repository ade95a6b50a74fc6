import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");

async function sources(dir: string): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(path.join(root, dir), { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)));
  return Promise.all(
    files.map(async (file) => ({ file, text: await readFile(path.join(root, file), "utf8") })),
  );
}

const importsOf = (text: string) => [...text.matchAll(/from "([^"]+)"/g)].map((match) => match[1]);

describe("package boundaries", () => {
  it("keeps packages/messaging generic: it imports no service package", async () => {
    const offending = (await sources("packages/messaging/src")).flatMap(({ file, text }) =>
      importsOf(text)
        .filter((name) => /^@platform\/(users|wallet|local)/.test(name ?? ""))
        .map((name) => `${file} imports ${name}`),
    );
    expect(offending).toEqual([]);
  });

  it("keeps business rules on the metrics port: Powertools and its EMF adapter only in Lambda wiring", async () => {
    const all = [
      ...(await sources("packages/core/src")),
      ...(await sources("packages/users/src")),
      ...(await sources("packages/wallet/src")),
      ...(await sources("packages/messaging/src")),
    ];
    const emf = all.flatMap(({ file, text }) =>
      importsOf(text).some((name) => /^@aws-lambda-powertools\/metrics|metrics-emf$/.test(name ?? ""))
        ? [file]
        : [],
    );
    // The adapter itself, and the handler builders that run on Lambda and flush per invocation.
    expect(emf.sort()).toEqual([
      "packages/core/src/metrics-emf.ts",
      "packages/messaging/src/outbox-relay-handler.ts",
      "packages/users/src/lambda.ts",
      "packages/wallet/src/key-retention.ts",
      "packages/wallet/src/lambda.ts",
      "packages/wallet/src/provisioner.ts",
    ]);
    const rules = all.filter(({ file }) => /(service|repository)\.ts$/.test(file));
    expect(rules.filter(({ text }) => /aws-lambda-powertools|metrics-emf/.test(text))).toEqual([]);
  });

  it("keeps business rules free of Hono and the AWS SDKs (adapters import them)", async () => {
    const rules = [
      ...(await sources("packages/users/src")),
      ...(await sources("packages/wallet/src")),
    ].filter(({ file }) => /(service|repository)\.ts$/.test(file));
    expect(rules.length).toBeGreaterThan(0);
    const offending = rules.flatMap(({ file, text }) =>
      importsOf(text)
        .filter((name) => /^(hono|@hono\/|@aws-sdk\/)/.test(name ?? ""))
        .map((name) => `${file} imports ${name}`),
    );
    expect(offending).toEqual([]);
  });
});
