"""Provision Tempest's pre-provisioned accounts and the alt image on a running Nimbus.

Usage: provision.py BASE_URL ADMIN_PASSWORD WORKSPACE_DIR
Creates two admins (role admin) and four members, each member in a project of its own,
through the Identity v3 API; uploads a second image through the Image v2 API; makes sure
there is exactly one shared network with a subnet (Tempest's fixed_network_name: its
accounts live in projects of their own, so only a shared network is usable by all of them,
and servers created without `networks` land on it); writes WORKSPACE_DIR/accounts.yaml and
prints shell assignments (IMAGE_ID=…, IMAGE_ID_ALT=…, FIXED_NETWORK=…, COMPUTE_NODES=…,
NETWORK_EXTENSIONS=…).
Standard library only: it runs under Debian's python3 beside Tempest.
"""
import json
import secrets
import shlex
import sys
import urllib.request

base, admin_password, workdir = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, path, body=None, token=None, ctype='application/json', raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header('Content-Type', ctype)
    if token:
        req.add_header('X-Auth-Token', token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return resp.headers, (json.loads(text) if text else None)


def token(user, password, project):
    headers, _ = call('POST', '/identity/v3/auth/tokens', {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': user, 'domain': {'id': 'default'}, 'password': password}}},
        'scope': {'project': {'name': project, 'domain': {'id': 'default'}}}}})
    return headers['X-Subject-Token']


admin = token('admin', admin_password, 'admin')
roles = {r['name']: r['id'] for r in call('GET', '/identity/v3/roles', token=admin)[1]['roles']}
admin_project = [p for p in call('GET', '/identity/v3/projects?name=admin', token=admin)[1]['projects']][0]


def user(name, project_id, role):
    password = secrets.token_urlsafe(16)
    u = call('POST', '/identity/v3/users', {'user': {
        'name': name, 'password': password, 'domain_id': 'default',
        'default_project_id': project_id}}, token=admin)[1]['user']
    call('PUT', f"/identity/v3/projects/{project_id}/users/{u['id']}/roles/{roles[role]}", token=admin)
    return password


accounts = []
for i in (1, 2):
    name = f'tempest-admin-{i}'
    accounts.append((name, user(name, admin_project['id'], 'admin'), 'admin', ['admin']))
for i in (1, 2, 3, 4):
    name = f'tempest-member-{i}'
    p = call('POST', '/identity/v3/projects', {'project': {
        'name': f'tempest-project-{i}', 'domain_id': 'default'}}, token=admin)[1]['project']
    accounts.append((name, user(name, p['id'], 'member'), p['name'], ['member']))

with open(f'{workdir}/accounts.yaml', 'w') as f:
    for name, password, project, user_roles in accounts:
        f.write(f"- username: '{name}'\n  project_name: '{project}'\n  password: '{password}'\n"
                f"  domain_name: 'Default'\n")
        if 'admin' in user_roles:
            f.write("  roles:\n  - 'admin'\n")

images = call('GET', '/image/v2/images', token=admin)[1]['images']
image_id = [i for i in images if i['status'] == 'active'][0]['id']
alt = call('POST', '/image/v2/images', {'name': 'tempest-image-alt', 'container_format': 'bare',
                                        'disk_format': 'raw', 'visibility': 'public'}, token=admin)[1]
call('PUT', f"/image/v2/images/{alt['id']}/file", token=admin, ctype='application/octet-stream',
     raw=b'\0' * 65536)

# One shared network: reuse the one Nimbus seeded if it did, else make one. Two shared
# networks would make every server created without `networks` ambiguous (409), as in Nova.
shared = [n for n in call('GET', '/network/v2.0/networks?shared=true', token=admin)[1]['networks']]
if len(shared) > 1:
    sys.exit(f"provision.py: {len(shared)} shared networks; Tempest's servers need exactly one")
if shared:
    network = shared[0]
else:
    network = call('POST', '/network/v2.0/networks', {'network': {'name': 'tempest-shared', 'shared': True}}, token=admin)[1]['network']
if not network['subnets']:
    call('POST', '/network/v2.0/subnets', {'subnet': {'network_id': network['id'], 'ip_version': 4, 'cidr': '10.20.0.0/16',
                                                     'name': 'tempest-shared-subnet'}}, token=admin)

# The external network floating IPs come from (Nimbus seeds DevStack's `public`), and a
# router joining the shared network to it, as DevStack's router1 joins its private network:
# a floating IP can only go to a port a router reaches.
public = [n for n in call('GET', '/network/v2.0/networks?router:external=true', token=admin)[1]['networks']]
if not public:
    sys.exit("provision.py: no external network for Tempest's floating IP tests")
public = public[0]
subnet_id = call('GET', f"/network/v2.0/networks/{network['id']}", token=admin)[1]['network']['subnets'][0]
router = call('POST', '/network/v2.0/routers', {'router': {'name': 'tempest-router', 'external_gateway_info': {'network_id': public['id']}}}, token=admin)[1]['router']
call('PUT', f"/network/v2.0/routers/{router['id']}/add_router_interface", {'subnet_id': subnet_id}, token=admin)

# min_compute_nodes: every enabled, up compute host (the fake driver's simulated hosts).
hypervisors = call('GET', '/compute/v2.1/os-hypervisors/detail', token=admin)[1]['hypervisors']
nodes = [h for h in hypervisors if h['status'] == 'enabled' and h['state'] == 'up']

print(f'IMAGE_ID={image_id}')
print(f"IMAGE_ID_ALT={alt['id']}")
print(f"FIXED_NETWORK={shlex.quote(network['name'])}")
print(f'COMPUTE_NODES={len(nodes)}')
print(f"PUBLIC_NETWORK_ID={public['id']}")
print(f"PUBLIC_NETWORK_NAME={shlex.quote(public['name'])}")
# [network-feature-enabled] api_extensions: what the Networking API says it has (Tempest's
# default, "all", would run the trunk and other extensions' tests).
extensions = call('GET', '/network/v2.0/extensions', token=admin)[1]['extensions']
print(f"NETWORK_EXTENSIONS={shlex.quote(','.join(e['alias'] for e in extensions))}")
