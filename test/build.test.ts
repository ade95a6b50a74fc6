import { execFile } from "node:child_process";
import { access, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { createDatabase } from "@platform/db";
import { usersMigrationsFolder } from "@platform/users";
import { provisionWallet, walletMigrationsFolder } from "@platform/wallet";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_HANDLER, bundleDirectory, describeDeployment } from "../infra/functions";
import { type BuiltFunction, buildFunctions } from "../scripts/build";
import { apiGatewayV2Event, lambdaContext } from "./support/apigw";
import { createTestDatabase, dataApiEmulator, type TestDatabase } from "./support/database";

// Inside the repository, so the bundles' external AWS SDK imports resolve from node_modules as
// they would from the Lambda runtime's own copy.
const outDir = path.resolve(".tmp/build-test");

/**
 * What a Lambda bundle may weigh: its minified JavaScript, every chunk included, the AWS SDK left to
 * the runtime (issue 9). Each bundle should stay well below it: routes keep being added.
 */
const BUNDLE_BUDGET_BYTES = 250_000;

type LambdaHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

describe("npm run build", () => {
  let built: BuiltFunction[];
  let usersDb: TestDatabase;
  let walletDb: TestDatabase;
  const bundle = (name: string) => {
    const found = built.find((fn) => fn.name === name);
    if (!found) throw new Error(`${name} was not built`);
    return found;
  };

  beforeAll(async () => {
    await mkdir(outDir, { recursive: true });
    [built, usersDb, walletDb] = await Promise.all([
      buildFunctions(outDir),
      createTestDatabase("bundle_users", usersMigrationsFolder),
      createTestDatabase("bundle_wallet", walletMigrationsFolder),
    ]);
  }, 180_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
    await usersDb?.drop();
    await walletDb?.drop();
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

  it("writes each function where sst deploy takes it from, its handler at the bundle's root", async () => {
    // infra/lambda.ts deploys `bundleDirectory(spec)` with handler BUNDLE_HANDLER (index.handler).
    const [file, exported] = BUNDLE_HANDLER.split(".");
    for (const spec of Object.values(describeDeployment("test").functions)) {
      const fn = bundle(path.basename(bundleDirectory(spec)));
      expect(path.basename(fn.file), spec.name).toBe(`${file}.mjs`);
      const code = await readFile(fn.file, "utf8");
      expect(code, spec.name).toMatch(
        new RegExp(`export\\{[^}]*\\bas ${exported}\\b[^}]*\\}|export\\{${exported}\\b`),
      );
      for (const copy of spec.copyFiles ?? []) {
        await expect(
          access(path.join(path.dirname(fn.file), copy.to)),
          `${spec.name}: ${copy.to}`,
        ).resolves.toBeUndefined();
      }
    }
  });

  it("keeps every bundle within its budget, the AWS SDK left out", async () => {
    const over = built
      .filter((fn) => fn.bytes > BUNDLE_BUDGET_BYTES)
      .map((fn) => `${fn.name}: ${fn.bytes} bytes`);
    expect(over, `over ${BUNDLE_BUDGET_BYTES} bytes`).toEqual([]);
    for (const fn of built) {
      const files = (await readdir(path.dirname(fn.file))).filter((file) => file.endsWith(".mjs"));
      const code = (
        await Promise.all(files.map((file) => readFile(path.join(path.dirname(fn.file), file), "utf8")))
      ).join("");
      // Every function reaches its database through the Data API: the SDK is imported by name, for
      // the Lambda runtime to resolve, not copied in (a bundled module keeps no bare specifier).
      expect(code, fn.name).toContain('"@aws-sdk/client-rds-data"');
    }
  });

  it.each([
    "users-api",
    "wallet-api",
    "outbox-relay",
    "wallet-provisioner",
    "users-migrator",
    "wallet-migrator",
    "wallet-key-pruner",
  ])("%s loads no AWS SDK module when it starts (it does on first use)", async (name) => {
    const fn = bundle(name);
    // Every module the import resolves, recorded by a loader hook in a fresh process.
    const hook = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(specifier, context, next) { console.error('resolve:' + specifier); return next(specifier, context); }",
    )}`;
    const script = `import { register } from "node:module";
register(${JSON.stringify(hook)});
await import(${JSON.stringify(pathToFileURL(fn.file).href)});`;
    const { stderr } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env.PATH ?? "",
        LOG_LEVEL: "silent",
        DB_DRIVER: "data-api",
        AWS_REGION: "eu-west-1",
        USERS_DB_CLUSTER_ARN: "arn:aws:rds:eu-west-1:123456789012:cluster:users",
        USERS_DB_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:users",
        USERS_DB_NAME: "users",
        WALLET_DB_CLUSTER_ARN: "arn:aws:rds:eu-west-1:123456789012:cluster:wallet",
        WALLET_DB_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wallet",
        WALLET_DB_NAME: "wallet",
        USER_EVENTS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/user-events",
        USER_EVENTS_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/user-events-dlq",
      },
    });
    const resolved = stderr
      .split("\n")
      .flatMap((line) => (line.startsWith("resolve:") ? [line.slice(8)] : []));
    expect(resolved).toContain(pathToFileURL(fn.file).href);
    expect(resolved.filter((specifier) => specifier.startsWith("@aws-sdk/"))).toEqual([]);
  });

  it("refuses node-postgres on Lambda with a message that says why", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      LOG_LEVEL: "silent",
      DB_DRIVER: "pg",
      USERS_DATABASE_URL: "postgres://nobody:none@127.0.0.1:9/users",
    });
    try {
      await expect(import(`${pathToFileURL(bundle("users-api").file).href}?pg`)).rejects.toThrow(
        /carries the RDS Data API driver only/,
      );
    } finally {
      process.env = saved;
    }
  });

  it.each(["users-api", "wallet-api"])(
    "produces a %s bundle that serves real requests through the Data API on its own",
    async (name) => {
      const fn = bundle(name);
      const { endpoint } = await dataApiEmulator();
      const saved = { ...process.env };
      Object.assign(process.env, {
        LOG_LEVEL: "silent",
        DB_DRIVER: "data-api",
        RDS_DATA_ENDPOINT: endpoint,
        USERS_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:123456789012:cluster:users",
        USERS_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:users",
        USERS_DB_NAME: usersDb.name,
        WALLET_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:123456789012:cluster:wallet",
        WALLET_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:wallet",
        WALLET_DB_NAME: walletDb.name,
        // Where the build put Swagger UI's files, as SWAGGER_UI_DIR=swagger-ui does on Lambda.
        SWAGGER_UI_DIR: path.join(path.dirname(fn.file), "swagger-ui"),
      });
      try {
        const { handler } = (await import(pathToFileURL(fn.file).href)) as { handler: LambdaHandler };
        const call = async (
          method: string,
          requestPath: string,
          options: { body?: unknown; token?: string } = {},
        ) => {
          const result = await handler(
            apiGatewayV2Event({
              method,
              path: requestPath,
              ...(options.body === undefined ? {} : { body: options.body }),
              headers: {
                ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
                ...(method === "POST" && requestPath.includes("transactions")
                  ? { "idempotency-key": `bundle-${requestPath}` }
                  : {}),
              },
            }),
            lambdaContext(name),
          );
          return {
            status: result.statusCode,
            body: JSON.parse(result.body || "null") as Record<string, unknown>,
          };
        };

        expect(await call("GET", "/health/live")).toEqual({ status: 200, body: { status: "ok" } });
        if (name === "users-api") {
          const credentials = { email: "bundle@example.com", password: "a bundle password" };
          const registered = await call("POST", "/v1/auth/register", {
            body: { firstName: "Bundle", lastName: "User", ...credentials },
          });
          expect(registered.status, JSON.stringify(registered.body)).toBe(201);
          const login = await call("POST", "/v1/auth/login", { body: credentials });
          expect(login.status).toBe(200);
          const me = await call("GET", "/v1/users/me", { token: String(login.body.accessToken) });
          expect(me).toMatchObject({ status: 200, body: { user: { email: credentials.email } } });
        } else {
          const { createTokenService, loadJwtConfig } = await import("@platform/core");
          const userId = crypto.randomUUID();
          const { accessToken } = await createTokenService(loadJwtConfig({})).issue(userId);
          expect((await call("GET", "/v1/balance", { token: accessToken })).status).toBe(503);
          const wallet = createDatabase({
            driver: "pg",
            url: walletDb.url,
          });
          try {
            await provisionWallet(wallet.db, userId);
          } finally {
            await wallet.close();
          }
          const credit = await call("POST", "/v1/transactions/credit", {
            token: accessToken,
            body: { amountMinor: 1234 },
          });
          expect(credit.status, JSON.stringify(credit.body)).toBe(201);
          expect(await call("GET", "/v1/balance", { token: accessToken })).toEqual({
            status: 200,
            body: { balanceMinor: 1234, currency: "USD" },
          });
        }
        // Swagger UI from the files copied next to the bundle, with no node_modules to fall back on.
        const docs = name === "wallet-api" ? "/wallet/docs" : "/docs";
        for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"]) {
          const asset = await handler(
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
        const openapi = await call("GET", name === "wallet-api" ? "/wallet/openapi.json" : "/openapi.json");
        expect(openapi).toMatchObject({ status: 200, body: { openapi: "3.1.0" } });
      } finally {
        process.env = saved;
      }
    },
  );
});
