import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { Schema } from '../db/schema.js';
import * as forServers from './servers.js';
import type { Addresses, ServerNetworking, ServerRef } from './servers.js';
import type { PortRecord } from './ports.js';

export type { Addresses, ServerAddress, ServerNetworking, ServerRef, RequestedNetworks } from './servers.js';

/**
 * The networking core as the rest of Nimbus holds it (services.network): the Networking
 * API runs its work through `transaction`, and the compute core gives servers their
 * ports inside its own transactions.
 */
export class Networking {
  constructor(
    readonly db: Db,
    private readonly clock: Clock,
  ) {}

  private lastMs = 0;
  private seq = 0;

  /**
   * Timestamps to the microsecond and strictly increasing in this process, so resources
   * made in the same millisecond still list in the order they were made. Views show
   * them to the second, as Neutron does.
   */
  now(): string {
    const ms = this.clock.nowMs();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else if (++this.seq > 999) {
      this.lastMs++;
      this.seq = 0;
    }
    return new Date(this.lastMs).toISOString().replace('Z', `${String(this.seq).padStart(3, '0')}Z`);
  }

  transaction<T>(work: (tx: Kysely<Schema>, now: string) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => work(tx, this.now()));
  }

  /** Nova's validate_networks: refuses a create whose networks, ports or groups will not do. */
  validateForServer(db: Kysely<Schema>, s: Omit<ServerNetworking, 'serverId'>): Promise<void> {
    return forServers.validateForServer(db, s);
  }

  /** Creates or binds the server's ports in `tx` and returns its Nova `addresses`. */
  allocateForServer(tx: Kysely<Schema>, s: ServerNetworking): Promise<Addresses> {
    return forServers.allocateForServer(tx, this.now(), s);
  }

  /** Deletes the ports made for the server and unbinds the ones it was given. */
  releaseForServer(tx: Kysely<Schema>, server: ServerRef): Promise<void> {
    return forServers.releaseForServer(tx, this.now(), server);
  }

  serverAddresses(db: Kysely<Schema>, server: ServerRef): Promise<Addresses> {
    return forServers.serverAddresses(db, server);
  }

  serverSecurityGroups(db: Kysely<Schema>, server: ServerRef): Promise<string[]> {
    return forServers.serverSecurityGroups(db, server);
  }

  serverSecurityGroupIds(db: Kysely<Schema>, server: ServerRef): Promise<string[]> {
    return forServers.serverSecurityGroupIds(db, server);
  }

  /** Nova's attach_interface: one more port for the server; returns it. */
  attachPort(tx: Kysely<Schema>, s: ServerNetworking): Promise<PortRecord> {
    return forServers.attachPort(tx, this.now(), s);
  }

  detachPort(tx: Kysely<Schema>, server: ServerRef, portId: string): Promise<void> {
    return forServers.detachPort(tx, this.now(), server, portId);
  }

  serverPorts(db: Kysely<Schema>, server: ServerRef): Promise<PortRecord[]> {
    return forServers.serverPortRecords(db, server);
  }

  /** Nova's addSecurityGroup (add) and removeSecurityGroup: the caller's group on or off every port of the server. */
  changeServerSecurityGroup(tx: Kysely<Schema>, callerProjectId: string, server: ServerRef, group: string, add: boolean): Promise<void> {
    const change = add ? forServers.addSecurityGroupToServer : forServers.removeSecurityGroupFromServer;
    return change(tx, this.now(), callerProjectId, server, group);
  }
}
