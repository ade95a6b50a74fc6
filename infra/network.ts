/**
 * The VPC exists for the databases only. Functions stay outside it: they reach SQS and the RDS
 * Data API over public AWS endpoints, so the VPC needs no NAT gateway (and costs nothing idle).
 */
export function createNetwork() {
  return new sst.aws.Vpc("Vpc", { az: 2 });
}
