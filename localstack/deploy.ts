/**
 * `npm run localstack:deploy`: creates the platform in the LocalStack stack that
 * `npm run localstack:up` started (functions from `npm run build`'s dist/, queues, the schedule,
 * the SQS trigger, function URLs), runs the migrators, and writes the URLs to
 * localstack/.outputs.json. Running it again updates the code and configuration in place.
 */
import { randomBytes } from "node:crypto";
import { access, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { IAMClient } from "@aws-sdk/client-iam";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { BUNDLES_DIRECTORY } from "../infra/functions";
import { DeployError, executePlan } from "./executor";
import { planDeployment } from "./plan";
import { CREDENTIALS, HOST_ENDPOINT, LOCALSTACK_SPEC, OUTPUTS_FILE, REGION } from "./stack";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** 48 random bytes, base64url: far past the 32 characters the functions require on AWS. */
const newSecret = () => randomBytes(48).toString("base64url");

async function main(): Promise<number> {
  const plan = planDeployment({
    ...LOCALSTACK_SPEC,
    newSecrets: { JwtPrivateKey: newSecret(), InternalKey: newSecret() },
  });
  const bundlesDir = path.join(root, BUNDLES_DIRECTORY);
  for (const fn of Object.values(plan.functions)) {
    try {
      await access(path.join(bundlesDir, fn.bundle, "index.mjs"));
    } catch {
      process.stderr.write(
        `${BUNDLES_DIRECTORY}/${fn.bundle}/index.mjs is missing: run \`npm run build\` first\n`,
      );
      return 1;
    }
  }
  const config = { endpoint: HOST_ENDPOINT, region: REGION, credentials: CREDENTIALS };
  const clients = {
    iam: new IAMClient(config),
    secretsmanager: new SecretsManagerClient(config),
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
    events: new EventBridgeClient(config),
  };
  try {
    const { outputs } = await executePlan(plan, clients, {
      bundlesDir,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    await writeFile(path.join(root, OUTPUTS_FILE), `${JSON.stringify(outputs, null, 2)}\n`);
    process.stdout.write(
      [
        "",
        "Deployed to LocalStack:",
        `  users API   ${outputs.usersUrl}`,
        `  wallet API  ${outputs.walletUrl}`,
        `  queue       ${outputs.queueUrl}`,
        `  DLQ         ${outputs.deadLetterQueueUrl}`,
        `Written to ${OUTPUTS_FILE}.`,
        "",
      ].join("\n"),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof DeployError)) throw error;
    const unreachable = /ECONNREFUSED|fetch failed|socket hang up/.test(String(error.cause ?? error.message));
    process.stderr.write(
      `${error.message}\n${unreachable ? `LocalStack does not answer at ${HOST_ENDPOINT}: run \`npm run localstack:up\` first.\n` : ""}`,
    );
    return 1;
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

process.exitCode = await main();
