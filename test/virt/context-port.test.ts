/**
 * The server context port's protocol (CloudSigma's server_context doc) between a guest's second
 * serial port and the process that owns the machine. QEMU's side of the port is a unix socket
 * it listens on; here a listener of the test plays QEMU, and what it sends is what the guest
 * wrote to ttyS1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { ContextPorts, MAX_PATH, type GuestContexts } from '../../src/virt/qemu/context-port.js';

const ID = '0b9d4f2e-8c57-4a1e-9d3b-2f6e5a7c8d90';

/** A socket like QEMU's chardev server: the guest's end of the port. */
async function qemuSide(path: string): Promise<{ server: Server; guest: () => Promise<Socket> }> {
  const server = createServer();
  const sockets: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  server.on('connection', (s) => (waiting.length ? waiting.shift()!(s) : sockets.push(s)));
  server.listen(path);
  await once(server, 'listening');
  return { server, guest: () => (sockets.length ? Promise.resolve(sockets.shift()!) : new Promise((r) => waiting.push(r))) };
}

/** Reads from the guest's end until `n` answers (each ending in a newline and EOT) came. */
async function answers(guest: Socket, n: number): Promise<string[]> {
  let got = '';
  while (got.split('\n\x04').length - 1 < n) {
    const [chunk] = await once(guest, 'data');
    got += chunk.toString();
  }
  return got.split('\n\x04').slice(0, n);
}

async function setup(contexts: Partial<GuestContexts> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-ctx-'));
  const path = join(dir, 'context.sock');
  const asked: string[] = [];
  const full: GuestContexts = { has: async () => true, answer: async (_id, p) => (asked.push(p), p === '' ? '{"name": "vm"}' : `value of ${p}`), ...contexts };
  const qemu = await qemuSide(path);
  let alive = true;
  const ports = new ContextPorts(full);
  ports.attach(ID, path, () => alive);
  const guest = await qemu.guest();
  return {
    dir,
    path,
    asked,
    qemu,
    guest,
    ports,
    kill: () => (alive = false),
    close: () => {
      ports.close();
      qemu.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a request for the whole context (<\\n\\n>) is answered with one line of JSON, a newline and EOT', async () => {
  const t = await setup();
  try {
    t.guest.write('<\n\n>');
    assert.deepEqual(await answers(t.guest, 1), ['{"name": "vm"}']);
    assert.deepEqual(t.asked, ['']);
  } finally {
    t.close();
  }
});

test('a path request is answered for that path, with LF or CRLF newlines, in the order asked', async () => {
  const t = await setup();
  try {
    t.guest.write('<\n/meta/ssh_public_key\n><\r\nname\r\n>');
    assert.deepEqual(await answers(t.guest, 2), ['value of /meta/ssh_public_key', 'value of name']);
  } finally {
    t.close();
  }
});

test('a request split across writes is answered once whole', async () => {
  const t = await setup();
  try {
    t.guest.write('<\n/me');
    await new Promise((r) => setTimeout(r, 50));
    t.guest.write('ta\n>');
    assert.deepEqual(await answers(t.guest, 1), ['value of /meta']);
  } finally {
    t.close();
  }
});

test('what is not a request, and a path over the bound, is dropped unanswered; the next request is answered', async () => {
  const t = await setup();
  try {
    t.guest.write(`garbage>\n<no newline><\n${'x'.repeat(MAX_PATH + 1)}\n>` + '<'.repeat(10) + 'y'.repeat(100000));
    t.guest.write('<\nname\n>');
    assert.deepEqual(await answers(t.guest, 1), ['value of name']);
    assert.deepEqual(t.asked, ['name']);
  } finally {
    t.close();
  }
});

test('a guest that gets nothing (context off, server gone) is sent nothing', async () => {
  const t = await setup({ answer: async (_id, p) => (p === 'off' ? null : 'on') });
  try {
    t.guest.write('<\noff\n><\nname\n>');
    assert.deepEqual(await answers(t.guest, 1), ['on']);
  } finally {
    t.close();
  }
});

test('a lost connection is made again while the machine runs (QEMU restarted, or this process): requests are answered again', async () => {
  const t = await setup();
  try {
    // QEMU drops the client; the port connects again.
    t.guest.destroy();
    const again = await t.qemu.guest();
    again.write('<\nname\n>');
    assert.deepEqual(await answers(again, 1), ['value of name']);
    // Another process (a restarted Nimbus) attaches to a socket nobody answers.
    t.ports.close();
    const other = new ContextPorts({ has: async () => true, answer: async () => 'from the new process' });
    other.attach(ID, t.path, () => true);
    const third = await t.qemu.guest();
    third.write('<\n\n>');
    assert.deepEqual(await answers(third, 1), ['from the new process']);
    other.close();
  } finally {
    t.close();
  }
});

test('once the machine has ended, its port is let go and not connected again', async () => {
  const t = await setup();
  try {
    t.kill();
    t.guest.destroy();
    for (let i = 0; i < 50 && t.ports.isAttached(ID); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.ports.isAttached(ID), false);
  } finally {
    t.close();
  }
});
