/**
 * Set per stage with `npx sst secret set <Name> <value> --stage <stage>`. A deploy fails while
 * JwtPrivateKey or InternalKey is unset; functions read them through their links, never from the
 * plain environment.
 */
export function createSecrets() {
  return {
    jwtPrivateKey: new sst.Secret("JwtPrivateKey"),
    internalKey: new sst.Secret("InternalKey"),
    // Set only during a rotation of InternalKey (docs/aws.md, "Secrets"); the empty placeholder
    // means "none", so a deploy never waits for it.
    internalKeySecondary: new sst.Secret("InternalKeySecondary", ""),
  };
}
