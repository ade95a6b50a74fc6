import { databaseScaling, devDatabase } from "./functions";

/**
 * One Aurora Serverless v2 PostgreSQL cluster per service, reached through the RDS Data API. Under
 * `sst dev` no cluster is deployed: the links point at the local PostgreSQL of
 * `npm run start:databases`.
 */
export function createDatabases(vpc: sst.aws.Vpc) {
  const scaling = databaseScaling($app.stage);
  const cluster = (name: string, database: string) =>
    new sst.aws.Aurora(name, {
      engine: "postgres",
      // The major of the embedded server the tests run on, pinned so an SST upgrade cannot move it;
      // the region picks the minor (the Data API needs 17.4 or later).
      version: "17",
      vpc,
      dataApi: true,
      database,
      scaling,
      dev: { ...devDatabase(process.env), database },
    });
  return {
    users: cluster("UsersDatabase", "users"),
    wallet: cluster("WalletDatabase", "wallet"),
  };
}
