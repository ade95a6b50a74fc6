/**
 * `npm run test:localstack`: brings the LocalStack stack up, deploys to it, runs the black-box suite
 * against its function URLs, and tears it down (also when a step fails). Needs Docker with the
 * compose plugin; `--keep` leaves the stack running for a look afterwards.
 */
import { spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { root, runBlackBoxSuite } from "../scripts/e2e";
import { OUTPUTS_FILE } from "./stack";

function run(command: string, args: string[]): Promise<number> {
  process.stdout.write(`\n$ ${[command, ...args].join(" ")}\n`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: "inherit" });
    child.once("error", (error) => {
      process.stderr.write(`${command}: ${error.message}\n`);
      resolve(127);
    });
    child.once("close", (code) => resolve(code ?? 1));
  });
}

/** Function URLs live under localhost.localstack.cloud, whose public DNS answers 127.0.0.1. */
async function unresolvable(urls: string[]): Promise<string[]> {
  const hosts = [...new Set(urls.map((url) => new URL(url).hostname))];
  const failed: string[] = [];
  for (const host of hosts) {
    try {
      await lookup(host);
    } catch {
      failed.push(host);
    }
  }
  return failed;
}

async function main(): Promise<number> {
  const { keep } = parseArgs({ options: { keep: { type: "boolean", default: false } } }).values;
  if ((await run("docker", ["compose", "version"])) !== 0) {
    process.stderr.write("test:localstack needs Docker with the compose plugin (`docker compose`).\n");
    return 1;
  }
  try {
    if ((await run("npm", ["run", "localstack:up"])) !== 0) return 1;
    if ((await run("npm", ["run", "localstack:deploy"])) !== 0) return 1;
    const outputs = JSON.parse(await readFile(path.join(root, OUTPUTS_FILE), "utf8")) as Record<
      string,
      string
    >;
    const { usersUrl = "", walletUrl = "" } = outputs;
    const missing = await unresolvable([usersUrl, walletUrl]);
    if (missing.length > 0) {
      process.stderr.write(
        `${missing.join(", ")} do not resolve here. They are LocalStack function URLs; the public DNS of ` +
          "localhost.localstack.cloud answers 127.0.0.1 for them. Offline, add them to /etc/hosts:\n" +
          missing.map((host) => `  127.0.0.1 ${host}\n`).join(""),
      );
      return 1;
    }
    process.stdout.write(`\nBlack-box suite against LocalStack: ${usersUrl} and ${walletUrl}\n`);
    return (await runBlackBoxSuite({ usersUrl, walletUrl, profile: "localstack" })).code;
  } finally {
    if (keep)
      process.stdout.write("\nThe stack keeps running (--keep): `npm run localstack:down` removes it.\n");
    else await run("npm", ["run", "localstack:down"]);
  }
}

process.exitCode = await main();
