import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuiltFunction, buildFunctions } from "../scripts/build";
import { apiGatewayV2Event, lambdaContext } from "./support/apigw";

// Inside the repository, so the bundles' external AWS SDK imports resolve from node_modules as
// they would from the Lambda runtime's own copy.
const outDir = path.resolve(".tmp/build-test");

describe("npm run build", () => {
  let built: BuiltFunction[];

  beforeAll(async () => {
    await mkdir(outDir, { recursive: true });
    built = await buildFunctions(outDir);
  }, 120_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it("bundles every entry point in functions/", () => {
    expect(built.map((fn) => fn.name).sort()).toEqual(
      expect.arrayContaining([
        "users-api",
        "users-migrator",
        "wallet-api",
        "wallet-migrator",
        "outbox-relay",
        "wallet-provisioner",
      ]),
    );
    for (const fn of built) expect(fn.bytes).toBeGreaterThan(1000);
  });

  it.each(["users-api", "wallet-api"])(
    "produces a %s bundle that answers API Gateway events on its own",
    async (name) => {
      const bundle = built.find((fn) => fn.name === name);
      if (!bundle) throw new Error(`${name} was not built`);
      const saved = { ...process.env };
      // Nothing listens there: liveness must not need the database, and pools connect lazily.
      Object.assign(process.env, {
        LOG_LEVEL: "silent",
        USERS_DATABASE_URL: "postgres://nobody:none@127.0.0.1:9/users",
        WALLET_DATABASE_URL: "postgres://nobody:none@127.0.0.1:9/wallet",
        // Where the build put Swagger UI's files, as SWAGGER_UI_DIR=swagger-ui does on Lambda.
        SWAGGER_UI_DIR: path.join(path.dirname(bundle.file), "swagger-ui"),
      });
      try {
        const module = (await import(pathToFileURL(bundle.file).href)) as {
          handler: (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;
        };
        const result = await module.handler(
          apiGatewayV2Event({ method: "GET", path: "/health/live" }),
          lambdaContext(name),
        );
        expect(result.statusCode).toBe(200);
        expect(JSON.parse(result.body ?? "{}")).toEqual({ status: "ok" });
        // Swagger UI from the files copied next to the bundle, with no node_modules to fall back on.
        const docs = name === "wallet-api" ? "/wallet/docs" : "/docs";
        for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"]) {
          const asset = await module.handler(
            apiGatewayV2Event({
              method: "GET",
              path: `${docs}/${file}`,
              headers: { "accept-encoding": "gzip" },
            }),
            lambdaContext(name),
          );
          expect(asset.statusCode, file).toBe(200);
          // Compressed, hence base64 through API Gateway.
          expect(asset.headers?.["content-encoding"], file).toBe("gzip");
          expect(asset.isBase64Encoded, file).toBe(true);
        }
      } finally {
        process.env = saved;
      }
    },
  );
});
