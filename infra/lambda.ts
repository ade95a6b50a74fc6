import {
  BUNDLE_HANDLER,
  bundleDirectory,
  type FunctionSpec,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
  type LinkName,
} from "./functions";

export type Links = Readonly<
  Record<LinkName, sst.Linkable<Record<string, unknown>> | sst.Secret | sst.aws.Aurora>
>;
export type QueueUrls = Readonly<Record<"UserEvents" | "UserEventsDlq", $util.Output<string>>>;

/**
 * SST function arguments for one entry of the deployment table (infra/functions.ts).
 *
 * Deployed functions are the bundles `npm run build` made (sst.config.ts runs it first) and the
 * tests ran and weighed: `bundle` makes SST upload that directory as it is, its copied files
 * (migrations, Swagger UI) included, instead of bundling the entry again with its own esbuild and
 * settings. Under `sst dev` the functions run from the sources instead: SST builds them itself and
 * rebuilds on every change, and they reach the local PostgreSQL with node-postgres, which the
 * Lambda bundles leave out.
 */
export function functionArgs(
  spec: FunctionSpec,
  links: Links,
  queueUrls: QueueUrls,
  options: { dev: boolean },
): sst.aws.FunctionArgs {
  const urls = Object.fromEntries(
    Object.entries(spec.queueUrls ?? {}).map(([variable, queue]) => [variable, queueUrls[queue]]),
  );
  const common = {
    runtime: LAMBDA_RUNTIME,
    architecture: LAMBDA_ARCHITECTURE,
    timeout: `${spec.timeoutSeconds} seconds`,
    memory: `${spec.memoryMb} MB`,
    link: spec.links.map((name) => links[name]),
    environment: { ...spec.environment, ...urls },
  } satisfies Omit<sst.aws.FunctionArgs, "handler">;
  if (!options.dev) return { ...common, bundle: bundleDirectory(spec), handler: BUNDLE_HANDLER };
  return {
    ...common,
    handler: spec.handler,
    ...(spec.copyFiles ? { copyFiles: spec.copyFiles.map((file) => ({ ...file })) } : {}),
    nodejs: {
      format: "esm",
      // The nodejs22.x runtime ships AWS SDK v3: bundling it again would only slow cold starts.
      esbuild: { external: ["@aws-sdk/*"] },
    },
  };
}
