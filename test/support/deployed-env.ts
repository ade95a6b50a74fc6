import type { FunctionSpec, LinkName } from "../../infra/functions";
import type { QueueTopology } from "../../packages/messaging/src/topology";

export const SIMULATED_REGION = "eu-west-1";
const ACCOUNT = "123456789012";

const queueUrl = (name: string) => `https://sqs.${SIMULATED_REGION}.amazonaws.com/${ACCOUNT}/${name}`;
const aurora = (database: string) => ({
  clusterArn: `arn:aws:rds:${SIMULATED_REGION}:${ACCOUNT}:cluster:${database}-cluster`,
  secretArn: `arn:aws:secretsmanager:${SIMULATED_REGION}:${ACCOUNT}:secret:${database}-AbCdEf`,
  database,
  username: "postgres",
  password: "generated",
  host: `${database}.cluster-abc.${SIMULATED_REGION}.rds.amazonaws.com`,
  port: 5432,
});

/** What each link carries on AWS, shaped as SST's link properties (secrets of AWS-acceptable length). */
export function simulatedLinks(topology: QueueTopology): Record<LinkName, Record<string, unknown>> {
  return {
    JwtPrivateKey: { value: "j".repeat(48) },
    InternalKey: { value: "i".repeat(48) },
    InternalKeySecondary: { value: "o".repeat(48) },
    UsersDatabase: aurora("users"),
    WalletDatabase: aurora("wallet"),
    UserEvents: { url: queueUrl(topology.queueName) },
    UserEventsDlq: { url: queueUrl(topology.deadLetterQueueName) },
  };
}

/** A deployed function's plain environment: its own variables, what Lambda sets, its queue URLs. */
export function deployedPlainEnv(
  spec: FunctionSpec,
  linked: Record<LinkName, Record<string, unknown>>,
): Record<string, string> {
  const env: Record<string, string> = {
    ...spec.environment,
    AWS_LAMBDA_FUNCTION_NAME: `users-wallet-platform-ci-${spec.name}`,
    AWS_REGION: SIMULATED_REGION,
  };
  for (const [variable, queue] of Object.entries(spec.queueUrls ?? {}))
    env[variable] = String(linked[queue].url);
  return env;
}

/**
 * The environment of a deployed function's process: its plain environment and its links the way
 * SST hands them over (`SST_RESOURCE_<Name>`, read by the `sst` package's `Resource`).
 */
export function deployedProcessEnv(
  spec: FunctionSpec,
  linked: Record<LinkName, Record<string, unknown>>,
): Record<string, string> {
  const env = deployedPlainEnv(spec, linked);
  for (const name of spec.links) env[`SST_RESOURCE_${name}`] = JSON.stringify(linked[name]);
  return env;
}
