import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProcess, request, passwordToken, freshDatabase } from './support.js';

/**
 * "Loses nothing when killed": SIGKILL while 50 servers are building, start again, and
 * every server settles ACTIVE (or ERROR with a fault); none stuck in BUILD, none lost.
 */
test('after SIGKILL during 50 builds a restart settles every server, none stuck and none lost', { timeout: 120000 }, async () => {
  const database = await freshDatabase();
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'crash-admin-pw', NIMBUS_DEMO_PASSWORD: 'crash-demo-pw', NIMBUS_FAKE_OPERATION_MS: '2000' };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const first = await startProcess(env);
  let second: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    const url = first.url;
    const admin = (await passwordToken(url, 'admin', 'crash-admin-pw', 'admin')).token;
    const image = (await request(url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
    const roles = (await request(url, 'GET', '/identity/v3/roles?name=member', { token: admin })).body.roles;

    // Five projects of ten servers each: the default quota is ten instances.
    const tokens: string[] = [];
    for (let p = 0; p < 5; p++) {
      const project = (await request(url, 'POST', '/identity/v3/projects', { token: admin, body: { project: { name: `crash-${p}`, domain_id: 'default' } } })).body.project;
      const user = (await request(url, 'POST', '/identity/v3/users', { token: admin, body: { user: { name: `crash-${p}`, password: 'pw', domain_id: 'default' } } })).body.user;
      await request(url, 'PUT', `/identity/v3/projects/${project.id}/users/${user.id}/roles/${roles[0].id}`, { token: admin });
      tokens.push((await passwordToken(url, `crash-${p}`, 'pw', `crash-${p}`)).token);
    }
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request(url, 'POST', '/compute/v2.1/servers', { token: tokens[i % 5], body: { server: { name: `crash-${i}`, imageRef: image, flavorRef: '1' } } }),
      ),
    );
    const ids = created.map((r) => {
      assert.equal(r.status, 202, r.text);
      return r.body.server.id as string;
    });
    const building = (await request(url, 'GET', '/compute/v2.1/servers/detail?all_tenants=1&status=BUILD', { token: admin })).body.servers.length;
    assert.ok(building >= 40, `most servers are still building when the process is killed (${building})`);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    second = await startProcess({ ...env, NIMBUS_DATA_DIR: first.dataDir });
    const admin2 = (await passwordToken(second.url, 'admin', 'crash-admin-pw', 'admin')).token;
    let servers: { id: string; status: string; fault?: { message: string } }[] = [];
    const deadline = Date.now() + 90000;
    do {
      await new Promise((r) => setTimeout(r, 250));
      servers = (await request(second.url, 'GET', '/compute/v2.1/servers/detail?all_tenants=1&limit=1000', { token: admin2 })).body.servers;
    } while (servers.some((s) => s.status === 'BUILD') && Date.now() < deadline);

    assert.deepEqual(servers.map((s) => s.id).sort(), [...ids].sort(), 'no server lost');
    for (const s of servers) {
      assert.ok(s.status === 'ACTIVE' || (s.status === 'ERROR' && s.fault?.message), `${s.id} is ${s.status}`);
    }
  } finally {
    await second?.stop();
    await first.stop();
    await database.drop();
  }
});


test('after SIGKILL in the middle of an action the restart finishes it, and the instance action says so', { timeout: 120000 }, async () => {
  const database = await freshDatabase();
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'crash-admin-pw', NIMBUS_DEMO_PASSWORD: 'crash-demo-pw', NIMBUS_FAKE_OPERATION_MS: '1500' };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const first = await startProcess(env);
  let second: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    const admin = (await passwordToken(first.url, 'admin', 'crash-admin-pw', 'admin')).token;
    const image = (await request(first.url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
    const id = (await request(first.url, 'POST', '/compute/v2.1/servers', { token: admin, body: { server: { name: 'mid-action', imageRef: image, flavorRef: '1' } } })).body.server.id;
    const status = async (url: string, token: string) => (await request(url, 'GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
    for (let i = 0; i < 100 && (await status(first.url, admin)).status !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await request(first.url, 'POST', `/compute/v2.1/servers/${id}/action`, { token: admin, body: { 'os-stop': null } })).status, 202);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await status(first.url, admin))['OS-EXT-STS:task_state'], 'powering-off');

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    second = await startProcess({ ...env, NIMBUS_DATA_DIR: first.dataDir });
    const admin2 = (await passwordToken(second.url, 'admin', 'crash-admin-pw', 'admin')).token;
    let s = await status(second.url, admin2);
    for (let i = 0; i < 600 && s['OS-EXT-STS:task_state'] !== null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await status(second.url, admin2);
    }
    assert.equal(s.status, 'SHUTOFF');
    const actions = (await request(second.url, 'GET', `/compute/v2.1/servers/${id}/os-instance-actions`, { token: admin2 })).body.instanceActions;
    const stop = actions.find((a: { action: string }) => a.action === 'stop');
    const detail = (await request(second.url, 'GET', `/compute/v2.1/servers/${id}/os-instance-actions/${stop.request_id}`, { token: admin2 })).body.instanceAction;
    assert.ok(detail.events.some((e: { event: string; result: string }) => e.event === 'compute_stop_instance' && e.result === 'Success'));
  } finally {
    await second?.stop();
    await first.stop();
    await database.drop();
  }
});
