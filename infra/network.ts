/**
 * The VPC exists for the databases only. Functions stay outside it: they reach SQS and the RDS
 * Data API over public AWS endpoints, so the VPC needs no NAT gateway. SST's Vpc always creates a
 * Cloud Map private DNS namespace, i.e. a Route 53 private hosted zone: its only idle cost.
 */
export function createNetwork() {
  return new sst.aws.Vpc("Vpc", { az: 2 });
}
