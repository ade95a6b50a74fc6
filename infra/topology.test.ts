import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { ConfigError, type Env, LAMBDA_ANSWER_MARGIN_MS, loadMetricsConfig } from "@platform/core";
import { databaseConfigFromEnv, MIGRATION_RESUME_BUDGET_MS } from "@platform/db";
import {
  ladderLength,
  loadMessagingConfig,
  REDRIVE_HEADROOM,
  RELAY_LAG,
  requireDeadLetterQueueUrl,
  retryDelayFor,
} from "@platform/messaging";
import { loadUsersConfig } from "@platform/users";
import { loadKeyRetentionConfig, loadWalletConfig } from "@platform/wallet";
import { describe, expect, it } from "vitest";
import {
  buildLambdaEnv,
  LINKED_DATABASES,
  LINKED_VARIABLES,
  type LinkedResources,
} from "../functions/_shared/aws-env";
import { WALLET_OPERATIONS_PREFIX } from "../packages/wallet/src/lambda";
import {
  deployedPlainEnv,
  deployedProcessEnv,
  SIMULATED_REGION,
  simulatedLinks,
} from "../test/support/deployed-env";
import {
  API_ROUTES,
  type Deployment,
  databaseScaling,
  describeAlarms,
  describeDeployment,
  type FunctionSpec,
  type LinkName,
  oldestMessageAlarmSeconds,
  RELAY_LAG_ALARM_SECONDS,
  RETAINED_IN_PRODUCTION,
  retainedResourceTypes,
  SWAGGER_UI_FILES,
} from "./functions";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { topology, functions } = describeDeployment("users-wallet-platform-ci");
type FunctionKey = keyof Deployment["functions"];

const LINKED = simulatedLinks(topology);

/** The configuration each function reads when its container starts (what its code calls). */
const STARTUP: Record<FunctionKey, (env: Env) => unknown> = {
  // The users API publishes the registration event at once, so it reads the messaging settings.
  usersApi: (env) => [
    loadUsersConfig(env),
    databaseConfigFromEnv("USERS", env),
    loadMessagingConfig(env),
    loadMetricsConfig(env, "users-api"),
  ],
  walletApi: (env) => [loadWalletConfig(env), loadMetricsConfig(env, "wallet-api")],
  outboxRelay: (env) => [
    loadMessagingConfig(env),
    databaseConfigFromEnv("USERS", env),
    loadMetricsConfig(env, "outbox-relay"),
  ],
  walletProvisioner: (env) => {
    const messaging = loadMessagingConfig(env);
    return [
      messaging,
      requireDeadLetterQueueUrl(messaging, "the wallet provisioner"),
      databaseConfigFromEnv("WALLET", env),
      loadMetricsConfig(env, "wallet-provisioner"),
    ];
  },
  usersMigrator: (env) => databaseConfigFromEnv("USERS", env),
  walletMigrator: (env) => databaseConfigFromEnv("WALLET", env),
  walletKeyPruner: (env) => [
    loadKeyRetentionConfig(env),
    databaseConfigFromEnv("WALLET", env),
    loadMetricsConfig(env, "wallet-key-pruner"),
  ],
};

/** The environment a deployed function sees: its plain variables, Lambda's own, and its links. */
function deployedEnv(spec: FunctionSpec, links: readonly LinkName[] = spec.links): Env {
  const plain = deployedPlainEnv(spec, LINKED);
  const resources: LinkedResources = Object.fromEntries(links.map((name) => [name, LINKED[name]]));
  return buildLambdaEnv(plain, resources);
}

const entries = Object.entries(functions) as [FunctionKey, FunctionSpec][];

describe("user-events topology", () => {
  it("ends the consumer's ladder in the DLQ right after the last tier", () => {
    const { retryTiersSeconds } = topology;
    expect(ladderLength(topology)).toBe(retryTiersSeconds.length + 1);
    retryTiersSeconds.forEach((tier, i) => {
      expect(retryDelayFor(topology, i + 1)).toBe(tier);
    });
    // The delivery after the last tier that fails goes to the DLQ, sent there by the consumer.
    expect(retryDelayFor(topology, ladderLength(topology))).toBeUndefined();
  });

  it("gives the redrive policy headroom above the ladder, as AWS advises for Lambda (at least 5)", () => {
    expect(topology.maxReceiveCount).toBe(ladderLength(topology) + REDRIVE_HEADROOM);
    expect(topology.maxReceiveCount).toBeGreaterThanOrEqual(5);
    // Every receive past the ladder, should throttling push a message there, dead-letters it too.
    for (let receive = ladderLength(topology); receive <= topology.maxReceiveCount; receive++) {
      expect(retryDelayFor(topology, receive)).toBeUndefined();
    }
  });

  it("keeps the visibility timeout at least six times the consumer's timeout", () => {
    expect(topology.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
      6 * functions.walletProvisioner.timeoutSeconds,
    );
  });

  it("gives the consumer the topology's timeout and batch size", () => {
    const consumer = functions.walletProvisioner;
    expect(consumer.timeoutSeconds).toBe(topology.consumerTimeoutSeconds);
    const config = loadMessagingConfig(deployedEnv(consumer));
    expect(config.topology).toEqual({
      ...topology,
      queueName: "user-events",
      deadLetterQueueName: "user-events-dlq",
    });
  });

  it("keeps dead letters longer than the main queue keeps messages", () => {
    // SQS keeps a message's original enqueue time when redriving it to a standard DLQ.
    expect(topology.deadLetterRetentionSeconds).toBeGreaterThan(topology.messageRetentionSeconds);
  });

  it("alarms on the oldest message only once it has outlived the whole retry ladder", () => {
    const ladder =
      topology.retryTiersSeconds.reduce((sum, tier) => sum + tier, 0) +
      ladderLength(topology) * topology.consumerTimeoutSeconds;
    expect(oldestMessageAlarmSeconds(topology)).toBeGreaterThan(ladder);
  });

  it("names the queues per app and stage", () => {
    expect(topology.queueName).toBe("users-wallet-platform-ci-user-events");
    expect(topology.deadLetterQueueName).toBe("users-wallet-platform-ci-user-events-dlq");
  });
});

describe("functions", () => {
  it.each(entries)("%s: the entry file exists and the handler points at it", (_key, spec) => {
    expect(existsSync(path.join(root, spec.entry))).toBe(true);
    expect(spec.handler).toBe(`${spec.entry.replace(/\.ts$/, "")}.handler`);
  });

  it.each(entries)("%s: its links cover everything it reads at start (data-api on AWS)", (key, spec) => {
    const env = deployedEnv(spec);
    expect(() => STARTUP[key](env)).not.toThrow();
    for (const [service, link] of Object.entries(LINKED_DATABASES)) {
      if (!spec.links.includes(link)) continue;
      expect(databaseConfigFromEnv(service as "USERS" | "WALLET", env)).toMatchObject({
        driver: "data-api",
        resourceArn: LINKED[link].clusterArn,
        secretArn: LINKED[link].secretArn,
        database: LINKED[link].database,
      });
    }
  });

  it.each(entries)("%s: every link is needed (least privilege)", (key, spec) => {
    const withAll = JSON.stringify(STARTUP[key](deployedEnv(spec)));
    for (const dropped of spec.links) {
      const env = deployedEnv(
        spec,
        spec.links.filter((name) => name !== dropped),
      );
      // A required link: start-up fails without it. An optional one (the secondary signing key):
      // start-up succeeds, but reads something else.
      let without: string | undefined;
      try {
        without = JSON.stringify(STARTUP[key](env));
      } catch (error) {
        expect(error, `${spec.name} without ${dropped}`).toBeInstanceOf(ConfigError);
        continue;
      }
      expect(without, `${spec.name} reads nothing from ${dropped}`).not.toBe(withAll);
    }
  });

  it("accepts the secondary signing key in the consumer during a rotation, and starts without one", () => {
    const consumer = functions.walletProvisioner;
    const rotating = loadMessagingConfig(deployedEnv(consumer)).signing;
    expect(Object.values(rotating.verificationKeys).sort()).toEqual(
      [LINKED.InternalKey.value, LINKED.InternalKeySecondary.value].sort(),
    );
    // The secret's placeholder (no rotation under way) is empty: one key, no configuration error.
    const plain = { ...consumer.environment, AWS_LAMBDA_FUNCTION_NAME: "ci", AWS_REGION: SIMULATED_REGION };
    const idle = loadMessagingConfig(
      buildLambdaEnv(
        { ...plain, USER_EVENTS_QUEUE_URL: String(LINKED.UserEvents.url) },
        { ...LINKED, InternalKeySecondary: { value: "" } },
      ),
    ).signing;
    expect(Object.values(idle.verificationKeys)).toEqual([LINKED.InternalKey.value]);
    // Signers never hold it: only the consumer verifies.
    const holders = entries.filter(([, spec]) => spec.links.includes("InternalKeySecondary"));
    expect(holders.map(([key]) => key)).toEqual(["walletProvisioner"]);
  });

  it.each(entries)("%s: no secret or linked value sits in the plain environment", (_key, spec) => {
    const linkedVariables = [
      ...Object.values(LINKED_VARIABLES).flatMap((properties) => Object.values(properties)),
      ...Object.keys(LINKED_DATABASES).flatMap((service) => [
        `${service}_DB_CLUSTER_ARN`,
        `${service}_DB_SECRET_ARN`,
        `${service}_DATABASE_URL`,
      ]),
    ];
    for (const variable of Object.keys(spec.environment)) {
      expect(linkedVariables, variable).not.toContain(variable);
      expect(variable).not.toMatch(/KEY|SECRET|PASSWORD|TOKEN/);
    }
  });

  it.each(entries.filter(([, spec]) => spec.copyFiles))(
    "%s: ships the files its *_DIR variables point at",
    (_key, spec) => {
      const copies = spec.copyFiles ?? [];
      for (const copy of copies) expect(existsSync(path.join(root, copy.from)), copy.from).toBe(true);
      const directories = Object.entries(spec.environment).filter(([name]) => name.endsWith("_DIR"));
      expect(directories.length).toBeGreaterThan(0);
      for (const [name, directory] of directories) {
        const shipped = copies.filter((copy) => copy.to === directory || copy.to.startsWith(`${directory}/`));
        expect(shipped.length, name).toBeGreaterThan(0);
      }
      const migrations = copies.find((copy) => copy.from.endsWith("/drizzle"));
      if (migrations)
        expect(existsSync(path.join(root, migrations.from, "meta", "_journal.json"))).toBe(true);
    },
  );

  it("gives both APIs Swagger UI's files from the pinned npm package", () => {
    for (const spec of [functions.usersApi, functions.walletApi]) {
      expect(spec.environment.SWAGGER_UI_DIR).toBe("swagger-ui");
      expect(spec.copyFiles?.map((copy) => copy.to).sort()).toEqual(
        SWAGGER_UI_FILES.map((file) => `swagger-ui/${file}`).sort(),
      );
    }
  });

  it("closes CORS unless origins are given at deploy time, and refuses a wildcard there", () => {
    for (const spec of [functions.usersApi, functions.walletApi]) {
      expect(spec.environment.CORS_ALLOWED_ORIGINS).toBeUndefined();
    }
    const open = describeDeployment("users-wallet-platform-ci", {
      corsAllowedOrigins: "https://app.example.com, https://admin.example.com",
    }).functions;
    const allowed = ["https://app.example.com", "https://admin.example.com"];
    expect(loadUsersConfig(deployedEnv(open.usersApi)).http.cors.allowedOrigins).toEqual(allowed);
    expect(loadWalletConfig(deployedEnv(open.walletApi)).http.cors.allowedOrigins).toEqual(allowed);
    expect(() => describeDeployment("users-wallet-platform-ci", { corsAllowedOrigins: "*" })).toThrow(
      /CORS_ALLOWED_ORIGINS/,
    );
  });

  it("schedules the relay every minute and the idempotency-key prune once a day, nothing else", () => {
    const scheduled = entries.filter(([, spec]) => spec.schedule).map(([key, spec]) => [key, spec.schedule]);
    expect(scheduled).toEqual([
      ["outboxRelay", "rate(1 minute)"],
      ["walletKeyPruner", "rate(1 day)"],
    ]);
  });

  it("keeps idempotency keys 30 days, pruned by a function linked to the wallet database alone", () => {
    const pruner = functions.walletKeyPruner;
    expect(pruner.links).toEqual(["WalletDatabase"]);
    expect(loadKeyRetentionConfig(deployedEnv(pruner)).retentionDays).toBe(30);
    // A day's run can use most of its time: batches stop 10 s before the end.
    expect(pruner.timeoutSeconds).toBeGreaterThanOrEqual(60);
  });

  it("runs the outbox relay for less time than a claimed row stays leased", () => {
    const lease = Number(functions.outboxRelay.environment.OUTBOX_LEASE_SECONDS);
    expect(lease).toBeGreaterThan(functions.outboxRelay.timeoutSeconds);
  });

  it("answers API requests before API Gateway's 30 s integration timeout", () => {
    expect(functions.usersApi.timeoutSeconds).toBeLessThan(30);
    expect(functions.walletApi.timeoutSeconds).toBeLessThan(30);
  });

  it("leaves every function that reads a database at least 20 s to wait for a paused cluster", () => {
    const readers = entries.filter(([, spec]) => spec.links.some((link) => link.endsWith("Database")));
    for (const [, spec] of readers) {
      expect(spec.timeoutSeconds * 1000 - LAMBDA_ANSWER_MARGIN_MS, spec.name).toBeGreaterThanOrEqual(20_000);
    }
    // A migrator gives up on a paused cluster after its own budget, well inside its timeout.
    for (const spec of [functions.usersMigrator, functions.walletMigrator]) {
      expect(spec.timeoutSeconds * 1000, spec.name).toBeGreaterThan(MIGRATION_RESUME_BUDGET_MS + 60_000);
    }
  });

  it("connects with node-postgres to the local PostgreSQL under sst dev", () => {
    const env = buildLambdaEnv(
      { SST_DEV: "true", AWS_LAMBDA_FUNCTION_NAME: "dev", AWS_REGION: SIMULATED_REGION },
      { UsersDatabase: { ...LINKED.UsersDatabase, host: "localhost", port: 5433, password: "postgres" } },
    );
    expect(databaseConfigFromEnv("USERS", env)).toMatchObject({
      driver: "pg",
      url: "postgres://postgres:postgres@localhost:5433/users",
    });
  });
});

describe("entry points", () => {
  /**
   * Starts each real entry file in a process of its own, with nothing but what Lambda would give
   * it: its plain variables, and its links the way SST hands them over (`SST_RESOURCE_<Name>`,
   * read by the `sst` package's `Resource`). Building the handler validates the whole configuration
   * and opens the Data API client, as a cold start does.
   */
  const start = (spec: FunctionSpec) => {
    const env = { PATH: process.env.PATH ?? "", ...deployedProcessEnv(spec, LINKED) };
    const script = `const m = await import(${JSON.stringify(pathToFileURL(path.join(root, spec.entry)).href)});
if (typeof m.handler !== "function") throw new Error("no handler export");`;
    return promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      env,
    });
  };

  // Six cold starts of whole module graphs at once on a small machine: a generous timeout.
  it("every function starts with only its links and its plain environment", async () => {
    const results = await Promise.allSettled(entries.map(([, spec]) => start(spec)));
    const failures = results.flatMap((result, i) =>
      result.status === "rejected" ? [`${entries[i]?.[1].name}: ${String(result.reason)}`] : [],
    );
    expect(failures).toEqual([]);
  }, 90_000);
});

describe("links", () => {
  // `npm test` runs `npm run infra:install` first, which writes the platform sources read here.
  const platform = path.join(root, ".sst/platform/src/components");
  const linkProperties = (file: string) => {
    const source = readFileSync(path.join(platform, file), "utf8");
    const block = /getSSTLink\(\)\s*{\s*return\s*{\s*properties:\s*{([\s\S]*?)}/.exec(source)?.[1] ?? "";
    return [...block.matchAll(/^\s*(\w+):/gm)].map((match) => match[1]);
  };

  it("reads the properties SST's Aurora and Secret links really carry", () => {
    expect(linkProperties("aws/aurora.ts")).toEqual(
      expect.arrayContaining(["clusterArn", "secretArn", "database", "host", "port", "username", "password"]),
    );
    expect(linkProperties("secret.ts")).toEqual(["value"]);
  });
});

describe("HTTP API", () => {
  const matches = (routeKey: string, method: string, requestPath: string) => {
    const [routeMethod, routePath = ""] = routeKey.split(" ");
    const pattern = new RegExp(`^${routePath.replace(/\{proxy\+\}/g, ".+").replace(/\{[^}]+\}/g, "[^/]+")}$`);
    return routeMethod === method && pattern.test(requestPath);
  };
  const contract: [string, string, FunctionKey][] = [
    ["POST", "/v1/auth/register", "usersApi"],
    ["POST", "/v1/auth/login", "usersApi"],
    ["POST", "/v1/auth/refresh", "usersApi"],
    ["POST", "/v1/auth/logout", "usersApi"],
    ["GET", "/v1/users/me", "usersApi"],
    ["PATCH", "/v1/users/me", "usersApi"],
    ["DELETE", "/v1/users/me", "usersApi"],
    ["POST", "/v1/users/me/password", "usersApi"],
    ["GET", "/health/live", "usersApi"],
    ["GET", "/health/ready", "usersApi"],
    ["GET", "/docs", "usersApi"],
    ["GET", "/openapi.json", "usersApi"],
    ["GET", "/docs/swagger-ui-bundle.js", "usersApi"],
    ["GET", "/docs/swagger-initializer.js", "usersApi"],
    ["POST", "/v1/transactions/credit", "walletApi"],
    ["POST", "/v1/transactions/debit", "walletApi"],
    ["GET", "/v1/transactions", "walletApi"],
    ["GET", "/v1/balance", "walletApi"],
    ["GET", "/v1/wallet/status", "walletApi"],
    ["POST", "/v1/transactions", "walletApi"],
    ["POST", "/v1/transfers", "walletApi"],
    ["POST", "/transactions", "walletApi"],
    ["GET", "/transactions", "walletApi"],
    ["GET", "/balance", "walletApi"],
    ["GET", "/wallet/health/ready", "walletApi"],
    ["GET", "/wallet/docs", "walletApi"],
    ["GET", "/wallet/openapi.json", "walletApi"],
    ["GET", "/wallet/docs/swagger-ui.css", "walletApi"],
    // CORS preflights, for the users' and the wallet's paths alike.
    ["OPTIONS", "/v1/users/me", "usersApi"],
    ["OPTIONS", "/v1/transactions/credit", "usersApi"],
  ];

  it("routes the prefix the wallet's Lambda handler strips", () => {
    expect(API_ROUTES).toContainEqual({
      route: `GET ${WALLET_OPERATIONS_PREFIX}/{proxy+}`,
      target: "walletApi",
    });
  });

  it.each(contract)("%s %s reaches exactly one function: %s", (method, requestPath, target) => {
    const routes = API_ROUTES.filter(({ route }) => matches(route, method, requestPath));
    expect(routes.map((route) => route.target)).toEqual([target]);
  });
});

describe("metrics and alarms", () => {
  const alarms = describeAlarms(describeDeployment("users-wallet-platform-ci"));
  const alarm = (name: string) => {
    const found = alarms.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no alarm ${name}`);
    return found;
  };

  it("writes every function's metrics to the stage's namespace, each function its own service", () => {
    const emitters = entries.filter(([key]) => !key.endsWith("Migrator"));
    const services = emitters.map(([, spec]) => loadMetricsConfig(deployedEnv(spec), "unset"));
    expect(new Set(services.map((config) => config.namespace))).toEqual(
      new Set(["users-wallet-platform-ci"]),
    );
    expect(services.map((config) => config.service)).toEqual([
      "users-api",
      "wallet-api",
      "outbox-relay",
      "wallet-provisioner",
      "wallet-key-pruner",
    ]);
    // On AWS a function without a namespace refuses to start rather than write where no alarm looks.
    const { POWERTOOLS_METRICS_NAMESPACE: _, ...without } = deployedEnv(functions.outboxRelay);
    expect(() => loadMetricsConfig(without, "outbox-relay")).toThrow(/POWERTOOLS_METRICS_NAMESPACE/);
  });

  it("pages on any message in the DLQ", () => {
    expect(alarm("UserEventsDlqNotEmpty")).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: topology.deadLetterQueueName },
      statistic: "Maximum",
      evaluationPeriods: 1,
      threshold: 0,
      comparison: "GreaterThanThreshold",
      missingData: "notBreaching",
    });
  });

  it("pages when the oldest message outlived the retry ladder", () => {
    expect(alarm("UserEventsOldestMessage")).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateAgeOfOldestMessage",
      dimensions: { QueueName: topology.queueName },
      threshold: oldestMessageAlarmSeconds(topology),
    });
  });

  it("pages on relay lag, reading the relay's own metric, and on a relay that stopped reporting", () => {
    const relay = loadMetricsConfig(deployedEnv(functions.outboxRelay), "unset");
    expect(alarm("OutboxRelayLag")).toEqual({
      name: "OutboxRelayLag",
      description: expect.stringContaining("pending"),
      namespace: relay.namespace,
      metricName: RELAY_LAG.name,
      dimensions: { service: relay.service },
      statistic: "Maximum",
      periodSeconds: 60,
      evaluationPeriods: 3,
      threshold: RELAY_LAG_ALARM_SECONDS,
      comparison: "GreaterThanThreshold",
      missingData: "breaching",
    });
    // The relay runs every minute: a lag over the threshold is several runs that could not send.
    expect(RELAY_LAG_ALARM_SECONDS).toBeGreaterThanOrEqual(3 * 60);
  });

  it("names each alarm once", () => {
    expect(new Set(alarms.map((candidate) => candidate.name)).size).toBe(alarms.length);
  });
});

describe("databases", () => {
  it("keeps production warm and lets other stages pause", () => {
    expect(databaseScaling("production")).toEqual({ min: "0.5 ACU", max: "4 ACU" });
    expect(databaseScaling("dev")).toMatchObject({ min: "0 ACU", pauseAfter: "10 minutes" });
  });
});

describe("what production retains", () => {
  // `npm test` runs `npm run infra:install` first, which writes the platform sources read here.
  const platform = path.join(root, ".sst/platform");
  const read = (file: string) => readFileSync(path.join(platform, file), "utf8");
  /** The types SST itself keeps under `removal: "retain"`, read from its own source. */
  const sstRetains = () => {
    const source = read("src/auto/run.ts");
    const block =
      /\$app\.removal === "retain" &&\s*\[([\s\S]*?)\]\.includes\(args\.type\)/.exec(source)?.[1] ?? "";
    return [...block.matchAll(/"([^"]+)"/g)].map((match) => match[1]);
  };
  /** Pulumi's class for a type token: aws:<module>/<file>:<Class>. */
  const pulumiClass = (type: string) => {
    const [, module, file, name] = /^aws:([a-z0-9]+)\/([A-Za-z0-9]+):([A-Za-z0-9]+)$/.exec(type) ?? [];
    return { module, file, name };
  };

  // Everything of this stack that holds data or the credentials to reach it.
  const STATEFUL = [
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:sqs/queue:Queue",
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretVersion:SecretVersion",
  ];

  it("keeps every stateful resource in production: SST's list plus ours, without overlap", () => {
    const sst = sstRetains();
    expect(sst).toContain("aws:rds/cluster:Cluster");
    // Not kept by SST: the reason infra/retention.ts exists. Should SST start keeping one, drop it here.
    for (const type of RETAINED_IN_PRODUCTION) expect(sst).not.toContain(type);
    const kept = new Set([...sst, ...retainedResourceTypes("production")]);
    expect(STATEFUL.filter((type) => !kept.has(type))).toEqual([]);
  });

  it("retains nothing extra on other stages", () => {
    expect(retainedResourceTypes("dev")).toEqual([]);
    expect(retainedResourceTypes("ci")).toEqual([]);
  });

  it("names types SST's components really create, with the Pulumi classes that carry them", () => {
    const components = read("src/components/aws/aurora.ts") + read("src/components/aws/queue.ts");
    const retention = readFileSync(path.join(root, "infra/retention.ts"), "utf8");
    for (const type of RETAINED_IN_PRODUCTION) {
      const { module, file, name } = pulumiClass(type);
      expect(components, type).toContain(`new ${module}.${name}(`);
      expect(read(`node_modules/@pulumi/aws/${module}/${file}.js`), type).toContain(
        `${name}.__pulumiType = '${type}'`,
      );
      expect(retention, type).toContain(`retain("${type}", aws.${module}.${name})`);
    }
  });

  it("is production's policy in sst.config.ts: protected, SST's retain on top", async () => {
    const config = await loadSstConfig();
    expect(config.app({ stage: "production" })).toMatchObject({ removal: "retain", protect: true });
    expect(config.app({ stage: "dev" })).toMatchObject({ removal: "remove", protect: false });
  });
});

/** sst.config.ts's `app()`, evaluated as SST's loader does: `$config` returns its argument. */
async function loadSstConfig(): Promise<{ app(input: { stage: string }): Record<string, unknown> }> {
  const globals = globalThis as { $config?: (config: unknown) => unknown };
  globals.$config = (config) => config;
  // A computed specifier: the root type-check must not follow it into SST's platform types.
  const module = (await import(pathToFileURL(path.join(root, "sst.config.ts")).href)) as {
    default: { app(input: { stage: string }): Record<string, unknown> };
  };
  return module.default;
}
