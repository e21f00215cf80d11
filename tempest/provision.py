"""Provision Tempest's pre-provisioned accounts and the alt image on a running Nimbus.

Usage: provision.py BASE_URL ADMIN_PASSWORD WORKSPACE_DIR
Creates two admins (role admin) and four members, each member in a project of its own,
through the Identity v3 API; uploads a second image through the Image v2 API; writes
WORKSPACE_DIR/accounts.yaml and prints shell assignments (IMAGE_ID=…, IMAGE_ID_ALT=…).
Standard library only: it runs under Debian's python3 beside Tempest.
"""
import json
import secrets
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
print(f'IMAGE_ID={image_id}')
print(f"IMAGE_ID_ALT={alt['id']}")
