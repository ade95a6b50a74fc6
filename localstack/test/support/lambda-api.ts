/**
 * The slice of the Lambda API that deploy.ts needs to create and run the migrators, served on
 * loopback for the real `@aws-sdk/client-lambda`: CreateFunction, UpdateFunctionCode,
 * UpdateFunctionConfiguration, GetFunction (the waiters) and Invoke. No Lambda emulator runs here
 * without Docker, so this stands in; everything else of the deploy needs LocalStack itself.
 *
 * A function's zip is unpacked under `workDir`, and each invocation runs its handler in a fresh Node
 * process (a cold start) with the function's environment, the variables Lambda adds, and the
 * unpacked code as its working directory, as /var/task is on Lambda. Keep `workDir` inside the
 * repository: the bundles import the AWS SDK, which the Lambda runtime provides, from node_modules.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { unzipSync } from "fflate";

interface StoredFunction {
  configuration: Record<string, unknown> & { FunctionName: string; Timeout?: number };
  directory: string;
  /** What GetFunction reports next: Pending once, as Lambda does right after a create. */
  state: "Pending" | "Active";
}

export interface FakeLambdaApi {
  endpoint: string;
  functions: ReadonlyMap<string, StoredFunction>;
  invocations: { functionName: string; payload: unknown; error?: string }[];
  stop(): Promise<void>;
}

const RUNTIME = `
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [eventFile, resultFile, timeoutSeconds] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
let outcome;
try {
  const { handler } = await import(pathToFileURL(process.cwd() + "/index.mjs").href);
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: "$LATEST",
    awsRequestId: crypto.randomUUID(),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  outcome = { result: await handler(JSON.parse(readFileSync(eventFile, "utf8")), context) };
} catch (error) {
  outcome = { error: { errorType: error?.name ?? "Error", errorMessage: error?.message ?? String(error) } };
}
writeFileSync(resultFile, JSON.stringify(outcome ?? { result: null }));
process.exit(0);
`;

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function reply(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(typeof value === "string" ? value : JSON.stringify(value));
}

function fail(response: ServerResponse, status: number, type: string, message: string) {
  reply(response, status, { Type: "User", message }, { "x-amzn-errortype": type });
}

export async function startFakeLambdaApi(options: { workDir: string; region: string; accountId: string }) {
  const functions = new Map<string, StoredFunction>();
  const invocations: FakeLambdaApi["invocations"] = [];
  await mkdir(options.workDir, { recursive: true });
  const runtime = path.join(options.workDir, "runtime.mjs");
  await writeFile(runtime, RUNTIME);

  async function unpack(name: string, zipBase64: string): Promise<string> {
    const directory = path.join(options.workDir, "functions", name);
    await rm(directory, { recursive: true, force: true });
    for (const [file, content] of Object.entries(unzipSync(Buffer.from(zipBase64, "base64")))) {
      await mkdir(path.dirname(path.join(directory, file)), { recursive: true });
      await writeFile(path.join(directory, file), content);
    }
    return directory;
  }

  const describe = (fn: StoredFunction) => ({
    ...fn.configuration,
    FunctionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${fn.configuration.FunctionName}`,
    State: fn.state,
    LastUpdateStatus: fn.state === "Active" ? "Successful" : "InProgress",
  });

  async function invoke(fn: StoredFunction, payload: Buffer): Promise<{ result?: unknown; error?: unknown }> {
    const id = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const eventFile = path.join(options.workDir, `${id}.event.json`);
    const resultFile = path.join(options.workDir, `${id}.result.json`);
    await writeFile(eventFile, payload.length > 0 ? payload : Buffer.from("{}"));
    const variables = (fn.configuration.Environment as { Variables?: Record<string, string> } | undefined)
      ?.Variables;
    const name = fn.configuration.FunctionName;
    try {
      await new Promise<void>((resolve, reject) =>
        execFile(
          process.execPath,
          [runtime, eventFile, resultFile, String(fn.configuration.Timeout ?? 3)],
          {
            cwd: fn.directory,
            timeout: (fn.configuration.Timeout ?? 3) * 1000 + 5000,
            // What the Lambda runtime sets, and nothing from this process.
            env: {
              PATH: process.env.PATH,
              ...variables,
              AWS_LAMBDA_FUNCTION_NAME: name,
              AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.configuration.MemorySize ?? 128),
              AWS_REGION: options.region,
              AWS_DEFAULT_REGION: options.region,
              AWS_ACCESS_KEY_ID: "test",
              AWS_SECRET_ACCESS_KEY: "test",
              LAMBDA_TASK_ROOT: fn.directory,
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
            },
          },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
      return JSON.parse(await readFile(resultFile, "utf8"));
    } finally {
      await rm(eventFile, { force: true });
      await rm(resultFile, { force: true });
    }
  }

  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
      const match = /^\/2015-03-31\/functions(?:\/([^/]+))?(?:\/(code|configuration|invocations))?\/?$/.exec(
        url.pathname,
      );
      const name = match?.[1] ? decodeURIComponent(match[1]) : undefined;
      const part = match?.[2];
      const existing = name ? functions.get(name) : undefined;
      if (!match) return fail(response, 501, "NotImplemented", `${request.method} ${url.pathname}`);
      if (request.method === "POST" && !name) {
        const input = JSON.parse((await body(request)).toString()) as StoredFunction["configuration"] & {
          Code?: { ZipFile?: string };
        };
        if (functions.has(input.FunctionName)) {
          return fail(
            response,
            409,
            "ResourceConflictException",
            `Function already exist: ${input.FunctionName}`,
          );
        }
        const { Code, ...configuration } = input;
        const fn: StoredFunction = {
          configuration,
          directory: await unpack(input.FunctionName, Code?.ZipFile ?? ""),
          state: "Pending",
        };
        functions.set(input.FunctionName, fn);
        return reply(response, 201, describe(fn));
      }
      if (!existing) return fail(response, 404, "ResourceNotFoundException", `Function not found: ${name}`);
      if (request.method === "GET" && !part) {
        const described = describe(existing);
        existing.state = "Active";
        return reply(response, 200, { Configuration: described, Code: { RepositoryType: "S3" } });
      }
      if (request.method === "PUT" && part === "code") {
        const input = JSON.parse((await body(request)).toString()) as { ZipFile: string };
        existing.directory = await unpack(existing.configuration.FunctionName, input.ZipFile);
        existing.state = "Pending";
        return reply(response, 200, describe(existing));
      }
      if (request.method === "PUT" && part === "configuration") {
        Object.assign(existing.configuration, JSON.parse((await body(request)).toString()));
        return reply(response, 200, describe(existing));
      }
      if (request.method === "POST" && part === "invocations") {
        const payload = await body(request);
        const outcome = await invoke(existing, payload);
        invocations.push({
          functionName: existing.configuration.FunctionName,
          payload: JSON.parse(payload.toString() || "{}"),
          ...(outcome.error ? { error: JSON.stringify(outcome.error) } : {}),
        });
        return outcome.error
          ? reply(response, 200, outcome.error, {
              "x-amz-function-error": "Unhandled",
              "x-amz-executed-version": "$LATEST",
            })
          : reply(response, 200, JSON.stringify(outcome.result ?? null), {
              "x-amz-executed-version": "$LATEST",
            });
      }
      return fail(response, 501, "NotImplemented", `${request.method} ${url.pathname}`);
    } catch (error) {
      fail(response, 500, "ServiceException", (error as Error).message);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const api: FakeLambdaApi = {
    endpoint: `http://127.0.0.1:${port}`,
    functions,
    invocations,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}
