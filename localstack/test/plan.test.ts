import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHALLENGE_INTERNAL_JWT_PRIVATE_KEY, CHALLENGE_JWT_PRIVATE_KEY } from "@platform/core";
import { REDRIVE_HEADROOM } from "@platform/messaging";
import { describe, expect, it } from "vitest";
import {
  API_ROUTES,
  describeDeployment,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
  RELAY_SCHEDULE,
} from "../../infra/functions";
import { isExecutable } from "../executor";
import { type DeployStep, type FunctionKey, planDeployment, TRIGGERS } from "../plan";
import { LOCALSTACK_RETRY_TIERS_SECONDS, LOCALSTACK_SPEC } from "../stack";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const secrets = { JwtPrivateKey: "j".repeat(64), InternalKey: "i".repeat(64) };
const plan = planDeployment({ ...LOCALSTACK_SPEC, newSecrets: secrets });
const { functions: specs } = describeDeployment(LOCALSTACK_SPEC.prefix, {
  retryTiersSeconds: LOCALSTACK_RETRY_TIERS_SECONDS,
});
const keys = Object.keys(specs) as FunctionKey[];

/** Every step, those a re-deploy takes instead included, in the order they may run. */
function allSteps(steps: readonly DeployStep[]): DeployStep[] {
  return steps.flatMap((step) => [step, ...allSteps(step.ifExists?.instead ?? [])]);
}
const position = (id: string) => plan.steps.findIndex((step) => step.id === id);
const step = (id: string): DeployStep => {
  const found = plan.steps.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found;
};
const references = (value: unknown): string[] =>
  [...JSON.stringify(value).matchAll(/\{\{([\w-]+)\./g)].map((m) => m[1] as string);

describe("the LocalStack deploy plan", () => {
  it("only uses actions the executor performs", () => {
    for (const { service, action, id } of allSteps(plan.steps)) {
      expect(isExecutable(service, action), `${id}: ${service}:${action}`).toBe(true);
    }
  });

  it("refers only to results of steps that ran before", () => {
    const seen = new Set<string>();
    const check = (steps: readonly DeployStep[]) => {
      for (const current of steps) {
        for (const id of references(current.input)) expect(seen, `${current.id} uses ${id}`).toContain(id);
        seen.add(current.id);
        // A re-deploy's steps see what ran before the step they replace.
        check(current.ifExists?.instead ?? []);
      }
    };
    check(plan.steps);
    for (const id of references(plan.outputs)) expect(seen).toContain(id);
  });

  it("creates the role, the secrets and the queues before the functions that use them", () => {
    const firstFunction = Math.min(...keys.map((key) => position(`function-${key}`)));
    expect(position("role")).toBeLessThan(firstFunction);
    expect(position("secret-JwtPrivateKey")).toBeLessThan(firstFunction);
    expect(position("secret-InternalKey")).toBeLessThan(firstFunction);
    expect(position("queues")).toBeLessThan(firstFunction);
  });

  it("builds the queue and its DLQ from the shared topology, with retry tiers short enough for tests", () => {
    const { topology } = step("queues").input as { topology: typeof plan.topology };
    expect(topology).toEqual(plan.topology);
    expect(topology.queueName).toBe(`${LOCALSTACK_SPEC.prefix}-user-events`);
    expect(topology.deadLetterQueueName).toBe(`${LOCALSTACK_SPEC.prefix}-user-events-dlq`);
    expect(topology.retryTiersSeconds).toEqual(LOCALSTACK_RETRY_TIERS_SECONDS);
    expect(topology.maxReceiveCount).toBe(LOCALSTACK_RETRY_TIERS_SECONDS.length + 1 + REDRIVE_HEADROOM);
    expect(Math.max(...topology.retryTiersSeconds)).toBeLessThanOrEqual(5);
    // The rest is AWS's: only the tiers differ from what `sst deploy` creates.
    const onAws = describeDeployment(LOCALSTACK_SPEC.prefix).topology;
    expect({ ...topology, retryTiersSeconds: [], maxReceiveCount: 0 }).toEqual({
      ...onAws,
      retryTiersSeconds: [],
      maxReceiveCount: 0,
    });
  });

  it("creates every function of the deployment table from its `npm run build` bundle", () => {
    expect(Object.keys(plan.functions).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      const spec = specs[key];
      const create = step(`function-${key}`);
      expect(create.action).toBe("CreateFunction");
      expect(create.bundle).toBe(plan.functions[key].bundle);
      // scripts/build.ts bundles functions/<name>.ts into dist/<name>/index.mjs.
      expect(existsSync(path.join(root, "functions", `${create.bundle}.ts`))).toBe(true);
      expect(spec.entry).toBe(`functions/${create.bundle}.ts`);
      expect(create.input).toMatchObject({
        FunctionName: `${LOCALSTACK_SPEC.prefix}-${spec.name}`,
        Runtime: LAMBDA_RUNTIME,
        Architectures: [LAMBDA_ARCHITECTURE],
        Handler: "index.handler",
        Timeout: spec.timeoutSeconds,
        MemorySize: spec.memoryMb,
        Role: "{{role.Role.Arn}}",
        Environment: { Variables: plan.functions[key].environment },
      });
      // A re-deploy updates code and configuration instead.
      expect(create.ifExists?.instead.map((next) => next.action)).toEqual([
        "UpdateFunctionCode",
        "WaitUntilFunctionReady",
        "UpdateFunctionConfiguration",
      ]);
      expect(position(`ready-${key}`)).toBeGreaterThan(position(`function-${key}`));
    }
  });

  it("gives each function its plain environment and what its links would give it on AWS", () => {
    for (const key of keys) {
      const spec = specs[key];
      const env = plan.functions[key].environment;
      expect(env).toMatchObject(spec.environment);
      const linked = (name: string) => spec.links.includes(name as never);
      expect(env.JWT_PRIVATE_KEY === undefined, key).toBe(!linked("JwtPrivateKey"));
      expect(env.INTERNAL_JWT_PRIVATE_KEY === undefined, key).toBe(!linked("InternalKey"));
      expect(env.USERS_DB_CLUSTER_ARN === undefined, key).toBe(!linked("UsersDatabase"));
      expect(env.WALLET_DB_CLUSTER_ARN === undefined, key).toBe(!linked("WalletDatabase"));
      expect(env.USER_EVENTS_DLQ_URL === undefined, key).toBe(!linked("UserEventsDlq"));
      // The emulated services, only where a link leads to them.
      expect(env.RDS_DATA_ENDPOINT === LOCALSTACK_SPEC.endpoints.dataApi, key).toBe(
        linked("UsersDatabase") || linked("WalletDatabase"),
      );
      expect(env.SQS_ENDPOINT === undefined, key).toBe(
        !linked("UserEvents") && !linked("UserEventsDlq") && !spec.queueUrls,
      );
      // On Lambda the Data API driver is the default; nothing here switches it off.
      expect(env.DB_DRIVER).toBeUndefined();
    }
    expect(plan.functions.usersApi.environment.USERS_DB_NAME).toBe(LOCALSTACK_SPEC.databases.users);
    // The consumer's ladder is the one the queue's redrive policy was built for.
    expect(plan.functions.walletProvisioner.environment.RETRY_TIERS_SECONDS).toBe(
      plan.topology.retryTiersSeconds.join(","),
    );
    expect(plan.functions.walletProvisioner.environment.USER_EVENTS_QUEUE_URL).toBe("{{queues.queueUrl}}");
  });

  it("keeps the secrets in Secrets Manager, generated once and never the challenge values", () => {
    for (const secret of ["JwtPrivateKey", "InternalKey"] as const) {
      const create = step(`new-secret-${secret}`);
      expect(create.input).toEqual({
        Name: `${LOCALSTACK_SPEC.prefix}/${secret}`,
        SecretString: secrets[secret],
      });
      // An existing secret is kept, so a re-deploy keeps tokens and queued events valid.
      expect(create.ifExists).toEqual({ errors: ["ResourceExistsException"], instead: [] });
      expect(position(`secret-${secret}`)).toBeGreaterThan(position(`new-secret-${secret}`));
    }
    const env = plan.functions.usersApi.environment;
    expect(env.JWT_PRIVATE_KEY).toBe("{{secret-JwtPrivateKey.SecretString}}");
    expect(env.INTERNAL_JWT_PRIVATE_KEY).toBe("{{secret-InternalKey.SecretString}}");
    for (const value of Object.values(secrets)) {
      expect(value.length).toBeGreaterThanOrEqual(32);
      expect([CHALLENGE_JWT_PRIVATE_KEY, CHALLENGE_INTERNAL_JWT_PRIVATE_KEY]).not.toContain(value);
    }
  });

  it("stays within Lambda's limits on environment variables", () => {
    for (const key of keys) {
      const env = plan.functions[key].environment;
      // Reserved by Lambda (CreateFunction refuses them): the runtime sets these itself.
      expect(
        Object.keys(env).filter((name) => /^(AWS_|_HANDLER$|LAMBDA_)/.test(name)),
        key,
      ).toEqual([]);
      // 4 KB in all; secrets as resolved (64 characters) instead of their references.
      const size = Object.entries(env).reduce(
        (sum, [name, value]) => sum + name.length + value.length + 64,
        0,
      );
      expect(size, key).toBeLessThan(4096);
    }
  });

  it("runs the migrators once every function is ready, and before any trigger exists", () => {
    const migrators = keys.filter((key) => TRIGGERS[key].kind === "invoked-on-deploy");
    expect(migrators.sort()).toEqual(["usersMigrator", "walletMigrator"]);
    const lastReady = Math.max(...keys.map((key) => position(`ready-${key}`)));
    const firstTrigger = Math.min(
      ...plan.steps.flatMap((s, i) => (/^(trigger|rule|url)-/.test(s.id) ? [i] : [])),
    );
    for (const key of migrators) {
      expect(step(`invoke-${key}`)).toMatchObject({
        action: "InvokeOrFail",
        input: { FunctionName: plan.functions[key].name },
      });
      expect(position(`invoke-${key}`)).toBeGreaterThan(lastReady);
      expect(position(`invoke-${key}`)).toBeLessThan(firstTrigger);
    }
  });

  it("triggers the consumer from the queue with the topology's batch size and partial batch responses", () => {
    expect(step("trigger-walletProvisioner")).toMatchObject({
      action: "CreateEventSourceMapping",
      input: {
        EventSourceArn: "{{queues.queueArn}}",
        FunctionName: plan.functions.walletProvisioner.name,
        BatchSize: plan.topology.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        Enabled: true,
      },
    });
  });

  it("runs every function SST schedules from a rule with the same schedule: the relay and the key prune", () => {
    const deployed = describeDeployment(LOCALSTACK_SPEC.prefix).functions;
    const scheduled = keys.filter((key) => deployed[key].schedule);
    expect(scheduled.sort()).toEqual(["outboxRelay", "walletKeyPruner"]);
    expect(keys.filter((key) => TRIGGERS[key].kind === "schedule").sort()).toEqual(scheduled);
    for (const key of scheduled) {
      expect(step(`rule-${key}`).input).toMatchObject({
        ScheduleExpression: deployed[key].schedule,
        State: "ENABLED",
      });
      expect(step(`permission-${key}`).input).toMatchObject({
        FunctionName: plan.functions[key].name,
        Principal: "events.amazonaws.com",
        SourceArn: `{{rule-${key}.RuleArn}}`,
      });
      expect(step(`targets-${key}`).input).toMatchObject({
        Targets: [{ Arn: `{{function-${key}.FunctionArn}}` }],
      });
    }
    expect(RELAY_SCHEDULE).toBe("rate(1 minute)");
  });

  it("gives a public function URL to exactly the functions API Gateway routes to, and outputs them", () => {
    const routed = [...new Set(API_ROUTES.map((route) => route.target))].sort();
    const withUrl = keys.filter((key) => TRIGGERS[key].kind === "function-url").sort();
    expect(withUrl).toEqual(routed);
    for (const key of withUrl) {
      expect(step(`url-${key}`).input).toEqual({ FunctionName: plan.functions[key].name, AuthType: "NONE" });
      expect(step(`url-permission-${key}`).input).toMatchObject({
        Action: "lambda:InvokeFunctionUrl",
        FunctionUrlAuthType: "NONE",
      });
    }
    expect(plan.outputs).toEqual({
      usersUrl: "{{url-usersApi.FunctionUrl}}",
      walletUrl: "{{url-walletApi.FunctionUrl}}",
      queueUrl: "{{queues.queueUrl}}",
      deadLetterQueueUrl: "{{queues.deadLetterQueueUrl}}",
    });
  });

  it("is the same plan for the same input", () => {
    expect(planDeployment({ ...LOCALSTACK_SPEC, newSecrets: secrets })).toEqual(plan);
  });
});
