import { type RetainedResourceType, retainedResourceTypes } from "./functions";

type PulumiResource<Args, Options> = { new (name: string, args: Args, opts?: Options): unknown };

/** Marks every resource of one Pulumi type `retainOnDelete`, checking the class is that type. */
function retain<Args, Options extends { retainOnDelete?: boolean }>(
  type: RetainedResourceType,
  resource: PulumiResource<Args, Options>,
) {
  const actual = (resource as unknown as { __pulumiType?: string }).__pulumiType;
  if (actual !== type) throw new Error(`expected the Pulumi class of ${type}, got ${String(actual)}`);
  $transform(resource, (_args, opts) => {
    opts.retainOnDelete = true;
  });
}

// Keyed by type, so a type added to RETAINED_IN_PRODUCTION without its class fails the type-check.
const RETAIN: Record<RetainedResourceType, () => void> = {
  "aws:sqs/queue:Queue": () => retain("aws:sqs/queue:Queue", aws.sqs.Queue),
  "aws:rds/clusterInstance:ClusterInstance": () =>
    retain("aws:rds/clusterInstance:ClusterInstance", aws.rds.ClusterInstance),
  "aws:secretsmanager/secret:Secret": () =>
    retain("aws:secretsmanager/secret:Secret", aws.secretsmanager.Secret),
  "aws:secretsmanager/secretVersion:SecretVersion": () =>
    retain("aws:secretsmanager/secretVersion:SecretVersion", aws.secretsmanager.SecretVersion),
};

/**
 * Keeps the stage's stateful resources that SST's `removal: "retain"` would delete (see
 * RETAINED_IN_PRODUCTION). Call before any component is created: a transform applies only to
 * resources registered after it.
 */
export function retainStatefulResources(stage: string) {
  for (const type of retainedResourceTypes(stage)) RETAIN[type]();
}
