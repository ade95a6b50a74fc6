import { DEV_DATABASE, databaseScaling } from "./functions";

/**
 * One Aurora Serverless v2 PostgreSQL cluster per service, reached through the RDS Data API. Under
 * `sst dev` no cluster is deployed: the links point at the local PostgreSQL of `npm start`.
 */
export function createDatabases(vpc: sst.aws.Vpc) {
  const scaling = databaseScaling($app.stage);
  const cluster = (name: string, database: string) =>
    new sst.aws.Aurora(name, {
      engine: "postgres",
      vpc,
      dataApi: true,
      database,
      scaling,
      dev: { ...DEV_DATABASE, database },
    });
  return {
    users: cluster("UsersDatabase", "users"),
    wallet: cluster("WalletDatabase", "wallet"),
  };
}
