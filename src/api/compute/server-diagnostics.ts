import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { Servers } from '../../compute/servers.js';
import { diagnose, type Diagnostics } from '../../compute/diagnostics.js';
import { resource } from '../http.js';

/** 2.48's standard format (nova.objects.diagnostics, rendered as Nova's view builder orders it). */
function standard(d: Diagnostics, hypervisor: string) {
  return {
    state: d.state,
    // Tempest allows only Nova's driver names; the fake stands in for the libvirt one, as Nova's fake does.
    driver: 'libvirt',
    hypervisor,
    hypervisor_os: 'linux',
    uptime: d.uptime,
    config_drive: d.configDrive,
    num_cpus: d.cpus.length,
    num_nics: d.nics.length,
    num_disks: d.disks.length,
    disk_details: d.disks.map((k) => ({ read_bytes: k.readBytes, read_requests: k.readRequests, write_bytes: k.writeBytes, write_requests: k.writeRequests, errors_count: k.errors })),
    cpu_details: d.cpus.map((c) => ({ id: c.id, time: c.time, utilisation: c.utilisation })),
    nic_details: d.nics.map((n) => ({
      mac_address: n.mac,
      rx_octets: n.rxOctets,
      rx_errors: n.rxErrors,
      rx_drop: n.rxDrop,
      rx_packets: n.rxPackets,
      rx_rate: null,
      tx_octets: n.txOctets,
      tx_errors: n.txErrors,
      tx_drop: n.txDrop,
      tx_packets: n.txPackets,
      tx_rate: null,
    })),
    memory_details: { maximum: d.memoryMb.maximum, used: d.memoryMb.used },
  };
}

/** Before 2.48 each driver answered in its own free form; this is the libvirt driver's. */
function legacy(d: Diagnostics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of d.cpus) out[`cpu${c.id}_time`] = c.time;
  out.memory = d.memoryMb.maximum * 1024;
  out['memory-actual'] = d.memoryMb.maximum * 1024;
  out['memory-rss'] = d.memoryMb.used * 1024;
  for (const k of d.disks) {
    out[`${k.device}_read`] = k.readBytes;
    out[`${k.device}_read_req`] = k.readRequests;
    out[`${k.device}_write`] = k.writeBytes;
    out[`${k.device}_write_req`] = k.writeRequests;
    out[`${k.device}_errors`] = k.errors;
  }
  d.nics.forEach((n, i) => {
    out[`vnet${i}_rx`] = n.rxOctets;
    out[`vnet${i}_rx_drop`] = n.rxDrop;
    out[`vnet${i}_rx_errors`] = n.rxErrors;
    out[`vnet${i}_rx_packets`] = n.rxPackets;
    out[`vnet${i}_tx`] = n.txOctets;
    out[`vnet${i}_tx_drop`] = n.txDrop;
    out[`vnet${i}_tx_errors`] = n.txErrors;
    out[`vnet${i}_tx_packets`] = n.txPackets;
  });
  return out;
}

/** GET /servers/{id}/diagnostics: admin only. */
export function serverDiagnosticsRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  resource(app, '/servers/:id/diagnostics', {
    GET: async (request) => {
      const { id } = request.params as { id: string };
      const server = await servers.get(request.auth, id);
      services.policy.authorize(request.auth, 'os_compute_api:os-server-diagnostics', server.project_id);
      const d = diagnose(server, services.clock.nowMs());
      if (request.microversion.atLeast('2.48')) return standard(d, services.driver.name);
      // The free form before 2.48 is the driver's own: where user-mode networking forwards the guest's SSH port.
      const ssh = server.host ? services.driver.sshForward?.(server.host, server.id) : null;
      return { ...legacy(d), ...(ssh ? { ssh_forward_port: ssh.port } : {}) };
    },
  });
}
