/**
 * `npm run test:deployed -- --stage NAME`: the black-box suite against a deployed SST stage, at the
 * API URL from SST's outputs. It creates users (and postings) in that stage: point it at a test
 * stage, not production.
 */
import { parseArgs } from "node:util";
import { deployedTarget, readSstOutputs, runBlackBoxSuite, TargetError } from "./e2e";

const USAGE = "usage: npm run test:deployed -- --stage <name>";

async function main(): Promise<number> {
  let stage: string | undefined;
  try {
    stage = parseArgs({ options: { stage: { type: "string" } } }).values.stage;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 64;
  }
  if (!stage) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  try {
    const target = deployedTarget(await readSstOutputs(stage), stage);
    process.stdout.write(`Black-box suite against stage ${stage}: ${target.usersUrl}\n`);
    return (await runBlackBoxSuite(target)).code;
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
}

process.exitCode = await main();
