import type { SecurityGroupRuleTable, SubnetTable } from '../../db/schema.js';
import type { NetworkRecord } from '../../network/networks.js';
import type { PortRecord } from '../../network/ports.js';
import type { FloatingIpRecord } from '../../network/floatingIps.js';
import type { RouterRecord } from '../../network/routers.js';
import { normalizedCidr, type SecurityGroupRecord } from '../../network/securityGroups.js';

/**
 * The resources as Neutron shows them, with the attributes of the extensions Nimbus lists
 * (project-id, standard-attr-*, net-mtu, external-net, port-security, binding, l2_adjacency,
 * stateful-security-group, security-groups-normalized-cidr).
 */
const owner = (projectId: string) => ({ tenant_id: projectId, project_id: projectId });
/** Stored to the microsecond (for order), shown to the second. */
const seconds = (t: string) => `${t.slice(0, 19)}Z`;
const stamps = (r: { created_at: string; updated_at: string; revision_number: number }) => ({
  created_at: seconds(r.created_at),
  updated_at: seconds(r.updated_at),
  revision_number: r.revision_number,
});

export function networkView(n: NetworkRecord): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    ...owner(n.project_id),
    admin_state_up: n.admin_state_up === 1,
    mtu: n.mtu,
    status: n.status,
    subnets: n.subnets,
    shared: n.shared === 1,
    'router:external': n.external === 1,
    // auto-allocated-topology's attribute, which Neutron shows on external networks only.
    ...(n.external === 1 ? { is_default: n.is_default === 1 } : {}),
    port_security_enabled: n.port_security_enabled === 1,
    l2_adjacency: true,
    description: n.description,
    ...stamps(n),
  };
}

export function subnetView(s: SubnetTable): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    ...owner(s.project_id),
    network_id: s.network_id,
    ip_version: s.ip_version,
    subnetpool_id: null,
    enable_dhcp: s.enable_dhcp === 1,
    ipv6_ra_mode: s.ipv6_ra_mode,
    ipv6_address_mode: s.ipv6_address_mode,
    gateway_ip: s.gateway_ip,
    cidr: s.cidr,
    allocation_pools: JSON.parse(s.allocation_pools),
    host_routes: JSON.parse(s.host_routes),
    dns_nameservers: JSON.parse(s.dns_nameservers),
    service_types: [],
    description: s.description,
    ...stamps(s),
  };
}

/** Binding details other than the vNIC type are for admins only, as in Neutron's policy. */
export function portView(p: PortRecord, isAdmin: boolean): Record<string, unknown> {
  const bound = p.binding_host_id !== '';
  return {
    id: p.id,
    name: p.name,
    network_id: p.network_id,
    ...owner(p.project_id),
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up === 1,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
    fixed_ips: p.fixed_ips,
    security_groups: p.security_groups,
    port_security_enabled: p.port_security_enabled === 1,
    'binding:vnic_type': p.binding_vnic_type,
    ...(isAdmin
      ? {
          'binding:host_id': p.binding_host_id,
          'binding:profile': JSON.parse(p.binding_profile),
          'binding:vif_type': bound ? 'ovs' : 'unbound',
          'binding:vif_details': bound ? { port_filter: true, connectivity: 'l2' } : {},
        }
      : {}),
    description: p.description,
    ...stamps(p),
  };
}

export function ruleView(r: SecurityGroupRuleTable): Record<string, unknown> {
  return {
    id: r.id,
    ...owner(r.project_id),
    security_group_id: r.security_group_id,
    ethertype: r.ethertype,
    direction: r.direction,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    normalized_cidr: normalizedCidr(r.remote_ip_prefix),
    remote_group_id: r.remote_group_id,
    description: r.description,
    ...stamps(r),
  };
}

export function securityGroupView(g: SecurityGroupRecord): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    ...owner(g.project_id),
    description: g.description,
    stateful: g.stateful === 1,
    security_group_rules: g.rules.map(ruleView),
    ...stamps(g),
  };
}

/** A router with its gateway (ext-gw-mode's enable_snat) and Neutron's standard attributes. */
export function routerView(r: RouterRecord): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    ...owner(r.project_id),
    admin_state_up: r.admin_state_up === 1,
    status: r.status,
    external_gateway_info: r.gateway,
    description: r.description,
    ...stamps(r),
  };
}

export function floatingIpView(f: FloatingIpRecord): Record<string, unknown> {
  return {
    id: f.id,
    ...owner(f.project_id),
    floating_ip_address: f.floating_ip_address,
    floating_network_id: f.floating_network_id,
    router_id: f.router_id,
    port_id: f.fixed_port_id,
    fixed_ip_address: f.fixed_ip_address,
    status: f.status,
    description: f.description,
    ...stamps(f),
  };
}
