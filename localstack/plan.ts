/**
 * The LocalStack deployment as a pure function: from the same data SST deploys (infra/functions.ts:
 * functions, links, environment, topology, routes, schedule) to an ordered list of AWS API calls.
 * executor.ts performs them; localstack/test/plan.test.ts checks the list itself.
 *
 * What stands in for what, since LocalStack's free edition lacks some services:
 * - API Gateway HTTP API → a Lambda function URL per API function (the same payload 2.0 event);
 * - EventBridge Scheduler (SST's CronV2) → an EventBridge rule with the same rate expression;
 * - Aurora and the RDS Data API → PostgreSQL and the project's Data API emulator (compose services);
 * - SST links → the same variables in the function's environment, built by the same code
 *   (functions/_shared/aws-env.ts), with the secrets kept in Secrets Manager between deploys.
 */
import { posix } from "node:path";
import { buildLambdaEnv, type LinkedResources } from "../functions/_shared/aws-env";
import {
  API_ROUTES,
  bundleDirectory,
  type Deployment,
  describeDeployment,
  type FunctionSpec,
  KEY_PRUNE_SCHEDULE,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
  type LinkName,
  RELAY_SCHEDULE,
} from "../infra/functions";
import type { QueueTopology } from "../packages/messaging/src/topology";

export type FunctionKey = keyof Deployment["functions"];
export type AwsService = "iam" | "secretsmanager" | "sqs" | "lambda" | "events";

/**
 * One call. Strings may hold references to earlier results, `{{stepId.path.to.field}}`, resolved
 * by the executor (an ARN or URL only known once created).
 */
export interface DeployStep {
  id: string;
  service: AwsService;
  /** An SDK command's name without `Command`, or one of the executor's composite actions. */
  action: string;
  input: Record<string, unknown>;
  /** A directory of `npm run build`'s output (dist/<bundle>) the executor zips into the call's code. */
  bundle?: string;
  /** When the call fails because the resource already exists: these instead (a re-deploy). */
  ifExists?: { errors: readonly string[]; instead: readonly DeployStep[] };
  /** One line for the deploy's log. */
  why: string;
}

export interface LocalStackSpec {
  /** Names every resource: one stack per LocalStack, like an SST stage. */
  prefix: string;
  region: string;
  accountId: string;
  retryTiersSeconds: readonly number[];
  /** What the functions use instead of AWS endpoints, as seen from their containers. */
  endpoints: { sqs: string; dataApi: string };
  databases: { users: string; wallet: string };
  /** Values for secrets that do not exist yet; existing ones are kept across deploys. */
  newSecrets: { JwtPrivateKey: string; InternalKey: string };
}

export interface PlannedFunction {
  key: FunctionKey;
  name: string;
  /** dist/<bundle>/index.mjs, from `npm run build`. */
  bundle: string;
  /** Its environment, references to secrets and queue URLs still unresolved. */
  environment: Record<string, string>;
}

export interface DeployPlan {
  topology: QueueTopology;
  functions: Record<FunctionKey, PlannedFunction>;
  steps: DeployStep[];
  /** Written to localstack/.outputs.json once every step succeeded. */
  outputs: Record<string, string>;
}

/** How each function is triggered on LocalStack; a new function must be given a line here. */
export type LocalTrigger =
  | { kind: "function-url" }
  | { kind: "schedule"; expression: string }
  | { kind: "queue" }
  | { kind: "invoked-on-deploy" };

export const TRIGGERS: Readonly<Record<FunctionKey, LocalTrigger>> = {
  // API Gateway's routes (API_ROUTES) all lead to these two: each gets a function URL instead.
  usersApi: { kind: "function-url" },
  walletApi: { kind: "function-url" },
  outboxRelay: { kind: "schedule", expression: RELAY_SCHEDULE },
  walletKeyPruner: { kind: "schedule", expression: KEY_PRUNE_SCHEDULE },
  walletProvisioner: { kind: "queue" },
  // As infra/migrations.ts does on every `sst deploy`: invoked synchronously, failing the deploy.
  usersMigrator: { kind: "invoked-on-deploy" },
  walletMigrator: { kind: "invoked-on-deploy" },
};

/** The secrets SST keeps (infra/secrets.ts) that a fresh stack needs; a rotation's is not one. */
const SECRETS = ["JwtPrivateKey", "InternalKey"] as const;

const ref = (step: string, path: string) => `{{${step}.${path}}}`;

/** The bundle's directory under dist/, where `npm run build` writes it (`bundleDirectory`). */
const bundleOf = (spec: FunctionSpec) => posix.basename(bundleDirectory(spec));

/** What each link carries on LocalStack, shaped as SST's link properties. */
function linkedResources(
  spec: LocalStackSpec,
): Readonly<Record<LinkName, Record<string, unknown> | undefined>> {
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${spec.region}:${spec.accountId}:${resource}`;
  const database = (name: string) => ({
    // The emulator checks that these are ARNs, nothing more; the database name picks the database.
    clusterArn: arn("rds", `cluster:${spec.prefix}-${name}`),
    secretArn: arn("secretsmanager", `secret:${spec.prefix}-${name}`),
    database: name,
  });
  return {
    JwtPrivateKey: { value: ref("secret-JwtPrivateKey", "SecretString") },
    InternalKey: { value: ref("secret-InternalKey", "SecretString") },
    // No rotation in progress on this stack (see docs/aws.md, "Secrets", for one on AWS).
    InternalKeySecondary: undefined,
    UsersDatabase: database(spec.databases.users),
    WalletDatabase: database(spec.databases.wallet),
    UserEvents: { url: ref("queues", "queueUrl") },
    UserEventsDlq: { url: ref("queues", "deadLetterQueueUrl") },
  };
}

/**
 * The environment the function gets: its plain variables, the variables its links would give it on
 * AWS (by the same mapping, functions/_shared/aws-env.ts), and the endpoints of the emulated
 * services it reaches through those links.
 */
function environmentOf(spec: FunctionSpec, stack: LocalStackSpec): Record<string, string> {
  const linked = linkedResources(stack);
  const plain: Record<string, string> = { ...spec.environment };
  for (const [variable, queue] of Object.entries(spec.queueUrls ?? {})) {
    plain[variable] = String(linked[queue]?.url);
  }
  const usesQueues =
    spec.links.some((link) => link === "UserEvents" || link === "UserEventsDlq") ||
    Object.keys(spec.queueUrls ?? {}).length > 0;
  if (usesQueues) plain.SQS_ENDPOINT = stack.endpoints.sqs;
  if (spec.links.some((link) => link === "UsersDatabase" || link === "WalletDatabase")) {
    plain.RDS_DATA_ENDPOINT = stack.endpoints.dataApi;
  }
  const resources: LinkedResources = Object.fromEntries(spec.links.map((link) => [link, linked[link]]));
  const env = buildLambdaEnv(plain, resources);
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

export function planDeployment(stack: LocalStackSpec): DeployPlan {
  const { topology, functions: specs } = describeDeployment(stack.prefix, {
    retryTiersSeconds: stack.retryTiersSeconds,
  });
  const keys = Object.keys(specs) as FunctionKey[];
  const functions = Object.fromEntries(
    keys.map((key) => {
      const spec = specs[key];
      const planned: PlannedFunction = {
        key,
        name: `${stack.prefix}-${spec.name}`,
        bundle: bundleOf(spec),
        environment: environmentOf(spec, stack),
      };
      return [key, planned];
    }),
  ) as Record<FunctionKey, PlannedFunction>;
  const arnOf = (key: FunctionKey) => ref(`function-${key}`, "FunctionArn");
  const roleName = `${stack.prefix}-lambda`;

  const steps: DeployStep[] = [
    {
      id: "role",
      service: "iam",
      action: "CreateRole",
      input: {
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
          ],
        }),
      },
      ifExists: {
        errors: ["EntityAlreadyExistsException"],
        instead: [
          {
            id: "role",
            service: "iam",
            action: "GetRole",
            input: { RoleName: roleName },
            why: "existing role",
          },
        ],
      },
      why: `the functions' execution role ${roleName} (LocalStack does not enforce IAM)`,
    },
  ];

  for (const secret of SECRETS) {
    const name = `${stack.prefix}/${secret}`;
    steps.push(
      {
        id: `new-secret-${secret}`,
        service: "secretsmanager",
        action: "CreateSecret",
        input: { Name: name, SecretString: stack.newSecrets[secret] },
        ifExists: { errors: ["ResourceExistsException"], instead: [] },
        why: `secret ${name}, kept across deploys`,
      },
      {
        id: `secret-${secret}`,
        service: "secretsmanager",
        action: "GetSecretValue",
        input: { SecretId: name },
        why: `the value of ${name}`,
      },
    );
  }

  steps.push({
    id: "queues",
    service: "sqs",
    action: "EnsureQueueTopology",
    input: { topology },
    why: `queue ${topology.queueName} and its DLQ (redrive after ${topology.maxReceiveCount} receives, tiers ${topology.retryTiersSeconds.join("/")} s)`,
  });

  for (const key of keys) {
    const spec = specs[key];
    const fn = functions[key];
    const configuration = {
      FunctionName: fn.name,
      Role: ref("role", "Role.Arn"),
      Runtime: LAMBDA_RUNTIME,
      Handler: "index.handler",
      Timeout: spec.timeoutSeconds,
      MemorySize: spec.memoryMb,
      Environment: { Variables: fn.environment },
    };
    steps.push({
      id: `function-${key}`,
      service: "lambda",
      action: "CreateFunction",
      input: { ...configuration, Architectures: [LAMBDA_ARCHITECTURE], PackageType: "Zip" },
      bundle: fn.bundle,
      ifExists: {
        errors: ["ResourceConflictException"],
        instead: [
          {
            id: `code-${key}`,
            service: "lambda",
            action: "UpdateFunctionCode",
            input: { FunctionName: fn.name, Architectures: [LAMBDA_ARCHITECTURE] },
            bundle: fn.bundle,
            why: `new code for ${fn.name}`,
          },
          {
            id: `updated-code-${key}`,
            service: "lambda",
            action: "WaitUntilFunctionReady",
            input: { FunctionName: fn.name },
            why: `${fn.name} takes its new code`,
          },
          {
            id: `function-${key}`,
            service: "lambda",
            action: "UpdateFunctionConfiguration",
            input: configuration,
            why: `new configuration for ${fn.name}`,
          },
        ],
      },
      why: `function ${fn.name} from dist/${fn.bundle}`,
    });
  }
  // After all of them were created: the first one may wait for its runtime image to be pulled.
  for (const key of keys) {
    steps.push({
      id: `ready-${key}`,
      service: "lambda",
      action: "WaitUntilFunctionReady",
      input: { FunctionName: functions[key].name },
      why: `${functions[key].name} is active`,
    });
  }

  // Migrations before anything can send traffic: the consumer and the APIs expect the tables.
  for (const key of keys.filter((k) => TRIGGERS[k].kind === "invoked-on-deploy")) {
    steps.push({
      id: `invoke-${key}`,
      service: "lambda",
      action: "InvokeOrFail",
      input: { FunctionName: functions[key].name, Payload: {} },
      why: `run ${functions[key].name} (a failure fails the deploy)`,
    });
  }

  for (const key of keys) {
    const fn = functions[key];
    const trigger = TRIGGERS[key];
    if (trigger.kind === "queue") {
      const mapping = {
        BatchSize: topology.batchSize,
        // Polls at once instead of gathering a batch: a registration's event is handled right away.
        MaximumBatchingWindowInSeconds: 0,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        Enabled: true,
      };
      steps.push({
        id: `trigger-${key}`,
        service: "lambda",
        action: "CreateEventSourceMapping",
        input: { EventSourceArn: ref("queues", "queueArn"), FunctionName: fn.name, ...mapping },
        ifExists: {
          errors: ["ResourceConflictException"],
          instead: [
            {
              id: `mappings-${key}`,
              service: "lambda",
              action: "ListEventSourceMappings",
              input: { EventSourceArn: ref("queues", "queueArn"), FunctionName: fn.name },
              why: `the existing mapping of ${fn.name}`,
            },
            {
              id: `trigger-${key}`,
              service: "lambda",
              action: "UpdateEventSourceMapping",
              input: {
                UUID: ref(`mappings-${key}`, "EventSourceMappings.0.UUID"),
                FunctionName: fn.name,
                ...mapping,
              },
              why: `its settings for ${fn.name}`,
            },
          ],
        },
        why: `${topology.queueName} → ${fn.name}, batches of ${topology.batchSize} with partial batch responses`,
      });
    } else if (trigger.kind === "schedule") {
      const rule = `${stack.prefix}-${key}`;
      steps.push(
        {
          id: `rule-${key}`,
          service: "events",
          action: "PutRule",
          input: { Name: rule, ScheduleExpression: trigger.expression, State: "ENABLED" },
          why: `rule ${rule}: ${trigger.expression} (stands in for SST's EventBridge Scheduler)`,
        },
        {
          id: `permission-${key}`,
          service: "lambda",
          action: "AddPermission",
          input: {
            FunctionName: fn.name,
            StatementId: "scheduled-rule",
            Action: "lambda:InvokeFunction",
            Principal: "events.amazonaws.com",
            SourceArn: ref(`rule-${key}`, "RuleArn"),
          },
          ifExists: { errors: ["ResourceConflictException"], instead: [] },
          why: `the rule may invoke ${fn.name}`,
        },
        {
          id: `targets-${key}`,
          service: "events",
          action: "PutTargets",
          input: { Rule: rule, Targets: [{ Id: key, Arn: arnOf(key) }] },
          why: `rule ${rule} → ${fn.name}`,
        },
      );
    } else if (trigger.kind === "function-url") {
      steps.push(
        {
          id: `url-${key}`,
          service: "lambda",
          action: "CreateFunctionUrlConfig",
          input: { FunctionName: fn.name, AuthType: "NONE" },
          ifExists: {
            errors: ["ResourceConflictException"],
            instead: [
              {
                id: `url-${key}`,
                service: "lambda",
                action: "GetFunctionUrlConfig",
                input: { FunctionName: fn.name },
                why: `the existing URL of ${fn.name}`,
              },
            ],
          },
          why: `function URL for ${fn.name} (stands in for API Gateway's HTTP API)`,
        },
        {
          id: `url-permission-${key}`,
          service: "lambda",
          action: "AddPermission",
          input: {
            FunctionName: fn.name,
            StatementId: "public-function-url",
            Action: "lambda:InvokeFunctionUrl",
            Principal: "*",
            FunctionUrlAuthType: "NONE",
          },
          ifExists: { errors: ["ResourceConflictException"], instead: [] },
          why: `anyone may call the URL of ${fn.name}, as anyone may call the HTTP API`,
        },
      );
    }
  }

  const routed = new Set(API_ROUTES.map((route) => route.target));
  const urlOf = (key: "usersApi" | "walletApi") => {
    if (!routed.has(key)) throw new Error(`${key} has a function URL but no API route leads to it`);
    return ref(`url-${key}`, "FunctionUrl");
  };
  return {
    topology,
    functions,
    steps,
    outputs: {
      usersUrl: urlOf("usersApi"),
      walletUrl: urlOf("walletApi"),
      queueUrl: ref("queues", "queueUrl"),
      deadLetterQueueUrl: ref("queues", "deadLetterQueueUrl"),
    },
  };
}
