import { NimbusError, type ErrorKind } from '../errors.js';

/**
 * A core error that also carries Neutron's exception name, which Neutron's clients read
 * from the `type` of the error body (NetworkNotFound, IpAddressInUse …).
 */
export class NetworkingError extends NimbusError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly neutronType: string,
  ) {
    super(kind, message);
  }
}

const make = (kind: ErrorKind, type: string) => (message: string) => new NetworkingError(kind, message, type);

/** neutron_lib's InvalidInput: "Invalid input for operation: …." */
export const invalidInput = (message: string) => new NetworkingError('invalid', `Invalid input for operation: ${message}.`, 'InvalidInput');
/** A 400 that names the attribute, as Neutron's attribute validators word it. */
export const badAttribute = (attr: string, reason: string) =>
  new NetworkingError('invalid', `Invalid input for ${attr}. Reason: ${reason}.`, 'HTTPBadRequest');
export const badRequest = make('invalid', 'HTTPBadRequest');
export const policyDenied = (rule: string) => new NetworkingError('forbidden', `rule:${rule} is disallowed by policy`, 'PolicyNotAuthorized');

export const networkNotFound = (id: string) => new NetworkingError('not_found', `Network ${id} could not be found.`, 'NetworkNotFound');
export const subnetNotFound = (id: string) => new NetworkingError('not_found', `Subnet ${id} could not be found.`, 'SubnetNotFound');
export const portNotFound = (id: string) => new NetworkingError('not_found', `Port ${id} could not be found.`, 'PortNotFound');
export const securityGroupNotFound = (id: string) => new NetworkingError('not_found', `Security group ${id} does not exist`, 'SecurityGroupNotFound');
export const securityGroupRuleNotFound = (id: string) =>
  new NetworkingError('not_found', `Security group rule ${id} does not exist`, 'SecurityGroupRuleNotFound');

export const networkInUse = (id: string) =>
  new NetworkingError('conflict', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, 'NetworkInUse');
export const subnetInUse = (id: string) =>
  new NetworkingError('conflict', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`, 'SubnetInUse');
export const ipAddressInUse = (networkId: string, ip: string) =>
  new NetworkingError('conflict', `Unable to complete operation for network ${networkId}. The IP address ${ip} is in use.`, 'IpAddressInUse');
export const ipAddressGenerationFailure = (networkId: string) =>
  new NetworkingError('conflict', `No more IP addresses available on network ${networkId}.`, 'IpAddressGenerationFailure');
export const macAddressInUse = (networkId: string, mac: string) =>
  new NetworkingError('conflict', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`, 'MacAddressInUse');
export const invalidIpForNetwork = (ip: string) =>
  new NetworkingError('invalid', `IP address ${ip} is not a valid IP for any of the subnets on the specified network.`, 'InvalidIpForNetwork');
export const invalidIpForSubnet = (ip: string) =>
  new NetworkingError('invalid', `IP address ${ip} is not a valid IP for the specified subnet.`, 'InvalidIpForSubnet');

/** neutron_lib's BadRequest: "Bad <resource> request: <msg>." */
export const badResourceRequest = (resource: string, msg: string) => new NetworkingError('invalid', `Bad ${resource} request: ${msg}.`, 'BadRequest');
export const routerNotFound = (id: string) => new NetworkingError('not_found', `Router ${id} could not be found`, 'RouterNotFound');
export const floatingIpNotFound = (id: string) => new NetworkingError('not_found', `Floating IP ${id} could not be found`, 'FloatingIPNotFound');
export const routerInUse = (id: string) => new NetworkingError('conflict', `Router ${id} still has ports`, 'RouterInUse');
