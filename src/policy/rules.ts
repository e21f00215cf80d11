/**
 * Nova's, Glance's and Keystone's default policies, as data. A rule names who may act:
 *   any            every authenticated caller
 *   admin          a caller holding the admin role
 *   project_reader admin, or reader (member, admin imply it) on the target's project
 *   project_member admin, or member on the target's project
 * Operators may override any entry in the config file's `policy` map.
 */
export type Rule = 'any' | 'admin' | 'project_reader' | 'project_member';

export const DEFAULT_RULES: Record<string, Rule> = {
  // identity
  'identity:get_project': 'project_reader', // Keystone: also any token scoped to that project
  'identity:list_projects': 'admin',
  'identity:create_project': 'admin',
  'identity:update_project': 'admin',
  'identity:delete_project': 'admin',
  'identity:get_user': 'admin',
  'identity:list_users': 'admin',
  'identity:create_user': 'admin',
  'identity:update_user': 'admin',
  'identity:delete_user': 'admin',
  'identity:list_user_projects': 'admin',
  'identity:get_role': 'admin',
  'identity:list_roles': 'admin',
  'identity:create_role': 'admin',
  'identity:delete_role': 'admin',
  'identity:list_role_assignments': 'admin',
  'identity:create_grant': 'admin',
  'identity:revoke_grant': 'admin',
  'identity:check_grant': 'admin',
  'identity:list_grants': 'admin',
  'identity:get_domain': 'any',
  'identity:list_domains': 'admin',
  'identity:create_domain': 'admin',
  'identity:update_domain': 'admin',
  'identity:delete_domain': 'admin',

  // the control API for testing tools
  'nimbus:control': 'admin',

  // compute: servers
  'os_compute_api:servers:index': 'project_reader',
  'os_compute_api:servers:detail': 'project_reader',
  'os_compute_api:servers:show': 'project_reader',
  'os_compute_api:servers:create': 'project_member',
  'os_compute_api:servers:update': 'project_member',
  'os_compute_api:servers:delete': 'project_member',

  // compute: around servers (metadata, tags, ips, password, diagnostics, instance actions)
  'os_compute_api:server-metadata:index': 'project_reader',
  'os_compute_api:server-metadata:show': 'project_reader',
  'os_compute_api:server-metadata:create': 'project_member',
  'os_compute_api:server-metadata:update_all': 'project_member',
  'os_compute_api:server-metadata:update': 'project_member',
  'os_compute_api:server-metadata:delete': 'project_member',
  'os_compute_api:os-server-tags:index': 'project_reader',
  'os_compute_api:os-server-tags:show': 'project_reader',
  'os_compute_api:os-server-tags:update': 'project_member',
  'os_compute_api:os-server-tags:update_all': 'project_member',
  'os_compute_api:os-server-tags:delete': 'project_member',
  'os_compute_api:os-server-tags:delete_all': 'project_member',
  'os_compute_api:ips:index': 'project_reader',
  'os_compute_api:ips:show': 'project_reader',
  'os_compute_api:os-server-password:show': 'project_reader',
  'os_compute_api:os-server-password:clear': 'project_member',
  'os_compute_api:os-server-diagnostics': 'admin',
  'os_compute_api:os-instance-actions:list': 'project_reader',
  'os_compute_api:os-instance-actions:show': 'project_reader',
  'os_compute_api:os-instance-actions:events': 'admin', // events with traceback and host
  'os_compute_api:os-instance-actions:events:details': 'admin',

  // compute: server groups
  'os_compute_api:os-server-groups:index': 'project_reader',
  'os_compute_api:os-server-groups:show': 'project_reader',
  'os_compute_api:os-server-groups:create': 'project_member',
  'os_compute_api:os-server-groups:delete': 'project_member',

  // compute: flavors
  'os_compute_api:os-flavor-manage:create': 'admin',
  'os_compute_api:os-flavor-manage:update': 'admin',
  'os_compute_api:os-flavor-manage:delete': 'admin',
  'os_compute_api:os-flavor-extra-specs:index': 'project_reader',
  'os_compute_api:os-flavor-extra-specs:show': 'project_reader',
  'os_compute_api:os-flavor-extra-specs:create': 'admin',
  'os_compute_api:os-flavor-extra-specs:update': 'admin',
  'os_compute_api:os-flavor-extra-specs:delete': 'admin',
  'os_compute_api:os-flavor-access': 'admin',
  'os_compute_api:os-flavor-access:add_tenant_access': 'admin',
  'os_compute_api:os-flavor-access:remove_tenant_access': 'admin',

  // compute: host administration (Nova: admin only, except listing availability zones)
  'os_compute_api:os-hypervisors:list': 'admin',
  'os_compute_api:os-hypervisors:list-detail': 'admin',
  'os_compute_api:os-hypervisors:show': 'admin',
  'os_compute_api:os-hypervisors:statistics': 'admin',
  'os_compute_api:os-hypervisors:uptime': 'admin',
  'os_compute_api:os-hypervisors:search': 'admin',
  'os_compute_api:os-hypervisors:servers': 'admin',
  'os_compute_api:os-services:list': 'admin',
  'os_compute_api:os-services:update': 'admin',
  'os_compute_api:os-services:delete': 'admin',
  'os_compute_api:os-hosts:list': 'admin',
  'os_compute_api:os-hosts:show': 'admin',
  'os_compute_api:os-hosts:update': 'admin',
  'os_compute_api:os-hosts:reboot': 'admin',
  'os_compute_api:os-hosts:shutdown': 'admin',
  'os_compute_api:os-hosts:start': 'admin',
  'os_compute_api:os-aggregates:index': 'admin',
  'os_compute_api:os-aggregates:create': 'admin',
  'os_compute_api:os-aggregates:show': 'admin',
  'os_compute_api:os-aggregates:update': 'admin',
  'os_compute_api:os-aggregates:delete': 'admin',
  'os_compute_api:os-aggregates:add_host': 'admin',
  'os_compute_api:os-aggregates:remove_host': 'admin',
  'os_compute_api:os-aggregates:set_metadata': 'admin',
  'compute:aggregates:images': 'admin',
  'os_compute_api:os-availability-zone:list': 'any',
  'os_compute_api:os-availability-zone:detail': 'admin',

  // compute: keypairs. Nova's rule is "admin or user_id:%(user_id)s": the owner always may,
  // and these say who may act on another user's keypairs.
  'os_compute_api:os-keypairs:index': 'admin',
  'os_compute_api:os-keypairs:create': 'admin',
  'os_compute_api:os-keypairs:show': 'admin',
  'os_compute_api:os-keypairs:delete': 'admin',
  // compute: quotas and limits
  'os_compute_api:os-quota-sets:show': 'project_reader',
  'os_compute_api:os-quota-sets:detail': 'project_reader',
  'os_compute_api:os-quota-sets:defaults': 'any',
  'os_compute_api:os-quota-sets:update': 'admin',
  'os_compute_api:os-quota-sets:delete': 'admin',
  'os_compute_api:os-quota-class-sets:show': 'admin',
  'os_compute_api:os-quota-class-sets:update': 'admin',
  'os_compute_api:limits': 'any',
  'os_compute_api:limits:other_project': 'admin',

  // compute: usage, the usage audit log and extensions
  'os_compute_api:os-simple-tenant-usage:show': 'project_reader',
  'os_compute_api:os-simple-tenant-usage:list': 'admin',
  'os_compute_api:os-instance-usage-audit-log:list': 'admin',
  'os_compute_api:os-instance-usage-audit-log:show': 'admin',
  'os_compute_api:extensions': 'any',

  // image
  'image:add_image': 'project_member',
  'image:get_image': 'project_reader',
  'image:get_images': 'any',
  'image:modify_image': 'project_member',
  'image:delete_image': 'project_member',
  'image:upload_image': 'project_member',
  'image:download_image': 'project_reader',
  'image:publicize_image': 'admin',
  'image:communitize_image': 'project_member',

  // network (Neutron's names). Reads are checked against the caller's own project: what
  // else it may see (shared networks, ports on its networks) is visibility, not policy.
  // Subnets, and addresses or MACs chosen on a port, answer to the network's owner.
  get_network: 'project_reader',
  create_network: 'project_member',
  'create_network:shared': 'admin',
  'create_network:router:external': 'admin',
  update_network: 'project_member',
  'update_network:shared': 'admin',
  'update_network:router:external': 'admin',
  delete_network: 'project_member',
  get_subnet: 'project_reader',
  create_subnet: 'project_member',
  update_subnet: 'project_member',
  delete_subnet: 'project_member',
  get_port: 'project_reader',
  create_port: 'project_member',
  'create_port:fixed_ips:ip_address': 'project_member',
  'create_port:mac_address': 'project_member',
  'create_port:binding:host_id': 'admin',
  'create_port:binding:profile': 'admin',
  update_port: 'project_member',
  'update_port:fixed_ips:ip_address': 'project_member',
  'update_port:binding:host_id': 'admin',
  'update_port:binding:profile': 'admin',
  delete_port: 'project_member',
  get_security_group: 'project_reader',
  create_security_group: 'project_member',
  update_security_group: 'project_member',
  delete_security_group: 'project_member',
  get_security_group_rule: 'project_reader',
  create_security_group_rule: 'project_member',
  delete_security_group_rule: 'project_member',
};
