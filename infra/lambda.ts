import { type FunctionSpec, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, type LinkName } from "./functions";

export type Links = Readonly<
  Record<LinkName, sst.Linkable<Record<string, unknown>> | sst.Secret | sst.aws.Aurora>
>;
export type QueueUrls = Readonly<Record<"UserEvents" | "UserEventsDlq", $util.Output<string>>>;

/** SST function arguments for one entry of the deployment table (infra/functions.ts). */
export function functionArgs(spec: FunctionSpec, links: Links, queueUrls: QueueUrls): sst.aws.FunctionArgs {
  const urls = Object.fromEntries(
    Object.entries(spec.queueUrls ?? {}).map(([variable, queue]) => [variable, queueUrls[queue]]),
  );
  return {
    handler: spec.handler,
    runtime: LAMBDA_RUNTIME,
    architecture: LAMBDA_ARCHITECTURE,
    timeout: `${spec.timeoutSeconds} seconds`,
    memory: `${spec.memoryMb} MB`,
    link: spec.links.map((name) => links[name]),
    environment: { ...spec.environment, ...urls },
    ...(spec.copyFiles ? { copyFiles: spec.copyFiles.map((file) => ({ ...file })) } : {}),
    nodejs: {
      format: "esm",
      minify: true,
      // The nodejs22.x runtime ships AWS SDK v3: bundling it again would only slow cold starts.
      // (No esbuild `target`: SST's Go bundler reads options as esbuild's Go struct, where the
      // target is an enum that a string like "node22" does not decode into.)
      esbuild: { external: ["@aws-sdk/*"] },
    },
  };
}
