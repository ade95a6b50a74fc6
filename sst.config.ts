/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "users-wallet-platform",
      home: "aws",
      // Production refuses removal; lifted, it keeps what SST's "retain" keeps (the clusters, the
      // VPC) and what infra/retention.ts adds (queues, DLQ, cluster instances, master secrets).
      removal: production ? "retain" : "remove",
      protect: production,
      providers: { aws: "7.20.0" },
    };
  },
  async run() {
    // Imported here, not at the top: the SST globals (sst, aws, $app) exist only inside run().
    const { describeAlarms, describeDeployment } = await import("./infra/functions");
    const { retainStatefulResources } = await import("./infra/retention");
    const { createNetwork } = await import("./infra/network");
    const { createSecrets } = await import("./infra/secrets");
    const { createDatabases } = await import("./infra/databases");
    const { createQueues } = await import("./infra/queues");
    const { functionArgs } = await import("./infra/lambda");
    const { buildLambdaBundles } = await import("./infra/bundles");
    const { runOnDeploy } = await import("./infra/migrations");
    const { createApi } = await import("./infra/api");
    const { createScheduledFunction, subscribeWalletProvisioner } = await import("./infra/workers");
    const { createAlarms } = await import("./infra/alarms");

    // First: it applies only to resources created after it.
    retainStatefulResources($app.stage);
    const deployment = describeDeployment(`${$app.name}-${$app.stage}`, {
      corsAllowedOrigins: process.env.CORS_ALLOWED_ORIGINS,
    });
    const { topology, functions } = deployment;
    const vpc = createNetwork();
    const secrets = createSecrets();
    const databases = createDatabases(vpc);
    const queues = createQueues(topology);
    const links = {
      JwtPrivateKey: secrets.jwtPrivateKey,
      InternalKey: secrets.internalKey,
      InternalKeySecondary: secrets.internalKeySecondary,
      UsersDatabase: databases.users,
      WalletDatabase: databases.wallet,
      ...queues.links,
    };
    const urls = { UserEvents: queues.queue.url, UserEventsDlq: queues.deadLetter.url };
    // Deployed: the bundles npm run build makes (and the tests run); sst dev builds from sources.
    if (!$dev) buildLambdaBundles(process.cwd());
    const args = (spec: (typeof functions)[keyof typeof functions]) =>
      functionArgs(spec, links, urls, { dev: $dev });

    for (const spec of [functions.usersMigrator, functions.walletMigrator]) {
      runOnDeploy(`${spec.name}Run`, new sst.aws.Function(spec.name, args(spec)));
    }
    const api = createApi({
      usersApi: new sst.aws.Function(functions.usersApi.name, args(functions.usersApi)),
      walletApi: new sst.aws.Function(functions.walletApi.name, args(functions.walletApi)),
    });
    // The outbox relay and the idempotency-key prune: what the deployment table gives a schedule.
    for (const spec of Object.values(functions)) {
      if (spec.schedule) createScheduledFunction(spec.name, spec.schedule, args(spec));
    }
    subscribeWalletProvisioner(queues.queue, topology, args(functions.walletProvisioner));
    const alarms = createAlarms(describeAlarms(deployment));

    return {
      // `npm run test:deployed -- --stage NAME` checks that .sst/outputs.json is this stage's.
      stage: $app.stage,
      api: api.url,
      userEventsQueue: queues.queue.url,
      userEventsDlq: queues.deadLetter.url,
      alarmsTopic: alarms.arn,
    };
  },
});
