/**
 * Performs a deploy plan (plan.ts) with the AWS SDK: each step's references resolved from earlier
 * results, bundles zipped, "already exists" turned into the step's update path.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateRoleCommand, GetRoleCommand, type IAMClient } from "@aws-sdk/client-iam";
import {
  AddPermissionCommand,
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  InvokeCommand,
  type LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { zipSync } from "fflate";
import { ensureQueueTopology } from "../packages/messaging/src/sqs";
import type { QueueTopology } from "../packages/messaging/src/topology";
import type { AwsService, DeployPlan, DeployStep } from "./plan";

export interface DeployClients {
  iam?: IAMClient;
  secretsmanager?: SecretsManagerClient;
  sqs?: SQSClient;
  lambda?: LambdaClient;
  events?: EventBridgeClient;
}

/** Results by step id: what each call answered. */
export type StepResults = Record<string, unknown>;

export class DeployError extends Error {
  override name = "DeployError";
}

type Sender = { send(command: object): Promise<unknown> };
type CommandClass = new (input: never) => object;

/** The SDK commands a plan may use, by service and action. */
const COMMANDS: Readonly<Record<AwsService, Readonly<Record<string, CommandClass>>>> = {
  iam: { CreateRole: CreateRoleCommand, GetRole: GetRoleCommand },
  secretsmanager: { CreateSecret: CreateSecretCommand, GetSecretValue: GetSecretValueCommand },
  sqs: {},
  lambda: {
    CreateFunction: CreateFunctionCommand,
    UpdateFunctionCode: UpdateFunctionCodeCommand,
    UpdateFunctionConfiguration: UpdateFunctionConfigurationCommand,
    CreateEventSourceMapping: CreateEventSourceMappingCommand,
    ListEventSourceMappings: ListEventSourceMappingsCommand,
    UpdateEventSourceMapping: UpdateEventSourceMappingCommand,
    AddPermission: AddPermissionCommand,
    CreateFunctionUrlConfig: CreateFunctionUrlConfigCommand,
    GetFunctionUrlConfig: GetFunctionUrlConfigCommand,
  },
  events: { PutRule: PutRuleCommand, PutTargets: PutTargetsCommand },
};

/** Actions made of several calls, or of a call and a check. */
const COMPOSITE: Readonly<Record<string, AwsService>> = {
  EnsureQueueTopology: "sqs",
  WaitUntilFunctionReady: "lambda",
  InvokeOrFail: "lambda",
};

/** True when the executor knows how to perform this action. */
export function isExecutable(service: AwsService, action: string): boolean {
  return Object.hasOwn(COMMANDS[service], action) || COMPOSITE[action] === service;
}

const REFERENCE = /\{\{([\w-]+)\.([\w.]+)\}\}/g;

/** Replaces every `{{step.path}}` in strings anywhere in `value` by that result's field. */
export function resolveReferences<T>(value: T, results: StepResults, where: string): T {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (whole, step: string, fieldPath: string) => {
      let current: unknown = Object.hasOwn(results, step) ? results[step] : undefined;
      for (const key of fieldPath.split(".")) {
        current =
          current !== null && typeof current === "object"
            ? (current as Record<string, unknown>)[key]
            : undefined;
      }
      if (typeof current !== "string" && typeof current !== "number") {
        throw new DeployError(`${where}: ${whole} does not resolve (no such result, or not a string)`);
      }
      return String(current);
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item) => resolveReferences(item, results, where)) as T;
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveReferences(item, results, where)]),
    ) as T;
  }
  return value;
}

/** The zip Lambda takes: the bundle directory's files at the root, fixed times for a stable hash. */
export async function zipBundle(directory: string): Promise<Uint8Array> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  const mtime = new Date(Date.UTC(2020, 0, 1));
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files[path.relative(directory, file).split(path.sep).join("/")] = [await readFile(file), { mtime }];
  }
  if (!files["index.mjs"])
    throw new DeployError(`${directory} has no index.mjs: run \`npm run build\` first`);
  return zipSync(files, { level: 9 });
}

function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? "";
}

export interface ExecuteOptions {
  /** Where `npm run build` put the bundles (dist/). */
  bundlesDir: string;
  log?: (line: string) => void;
  /** How long a function may take to become active (the first one pulls its runtime image). */
  functionReadySeconds?: number;
}

export async function executePlan(
  plan: Pick<DeployPlan, "steps" | "outputs">,
  clients: DeployClients,
  options: ExecuteOptions,
): Promise<{ results: StepResults; outputs: Record<string, string> }> {
  const results: StepResults = {};
  const log = options.log ?? (() => undefined);
  const clientOf = (step: DeployStep): Sender => {
    const client = clients[step.service];
    if (!client) throw new DeployError(`step ${step.id}: no ${step.service} client`);
    return client as unknown as Sender;
  };

  async function perform(step: DeployStep): Promise<unknown> {
    const input = resolveReferences(step.input, results, `step ${step.id}`);
    if (step.bundle !== undefined) {
      const zip = await zipBundle(path.join(options.bundlesDir, step.bundle));
      if (step.action === "CreateFunction") input.Code = { ZipFile: zip };
      else if (step.action === "UpdateFunctionCode") input.ZipFile = zip;
      else throw new DeployError(`step ${step.id}: ${step.action} takes no bundle`);
    }
    switch (step.action) {
      case "EnsureQueueTopology":
        return ensureQueueTopology(clientOf(step) as unknown as SQSClient, input.topology as QueueTopology);
      case "WaitUntilFunctionReady": {
        const lambda = clientOf(step) as unknown as LambdaClient;
        const waiter = {
          client: lambda,
          maxWaitTime: options.functionReadySeconds ?? 300,
          minDelay: 1,
          maxDelay: 5,
        };
        const target = { FunctionName: String(input.FunctionName) };
        await waitUntilFunctionActiveV2(waiter, target);
        return (await waitUntilFunctionUpdatedV2(waiter, target)).reason;
      }
      case "InvokeOrFail": {
        const response = (await clientOf(step).send(
          new InvokeCommand({
            FunctionName: String(input.FunctionName),
            InvocationType: "RequestResponse",
            Payload: new TextEncoder().encode(JSON.stringify(input.Payload ?? {})),
          }),
        )) as { FunctionError?: string; Payload?: Uint8Array };
        const text = response.Payload ? new TextDecoder().decode(response.Payload) : "";
        if (response.FunctionError) {
          let message = text;
          try {
            const error = JSON.parse(text) as { errorType?: string; errorMessage?: string };
            message = `${error.errorType ?? "Error"}: ${error.errorMessage ?? text}`;
          } catch {
            // not JSON: the raw payload says it all
          }
          throw new DeployError(
            `${String(input.FunctionName)} failed (${response.FunctionError}): ${message}`,
          );
        }
        return text ? JSON.parse(text) : null;
      }
      default: {
        const Command = COMMANDS[step.service][step.action];
        if (!Command) throw new DeployError(`step ${step.id}: no such action ${step.service}:${step.action}`);
        return clientOf(step).send(new (Command as new (input: unknown) => object)(input));
      }
    }
  }

  async function run(step: DeployStep): Promise<void> {
    log(`→ ${step.why}`);
    try {
      results[step.id] = await perform(step);
    } catch (error) {
      if (!step.ifExists?.errors.includes(errorName(error))) {
        if (error instanceof DeployError) throw error;
        throw new DeployError(
          `step ${step.id} (${step.service}:${step.action}) failed: ${errorName(error)}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      log("  exists already");
      for (const next of step.ifExists.instead) await run(next);
    }
  }

  for (const step of plan.steps) await run(step);
  return { results, outputs: resolveReferences(plan.outputs, results, "outputs") };
}
