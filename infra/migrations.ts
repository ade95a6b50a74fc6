/**
 * Runs a migrator function on every `sst deploy`: the trigger changes each time, so the invocation
 * is replaced and Lambda is invoked synchronously; a failing migration (an error returned by the
 * function) fails the deploy. Under `sst dev` the function would be a stub forwarding to this
 * machine, so nothing is invoked: `npm start` migrates the local databases instead.
 */
export function runOnDeploy(name: string, migrator: sst.aws.Function) {
  if ($dev) return undefined;
  return new aws.lambda.Invocation(name, {
    functionName: migrator.name,
    input: JSON.stringify({}),
    triggers: { deployedAt: String(Date.now()) },
  });
}
