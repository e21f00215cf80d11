/**
 * /keypairs/ and /pubkeys/: the user's keypairs, the same rows as the compute API's
 * os-keypairs (a keypair made in one face is listed in the other). A keypair generated here
 * answers with its private key once; nothing keeps it. /pubkeys/ never shows a private key,
 * only whether one went with the keypair (`has_private_key`).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { createKeypair, type Keypair } from '../../compute/keypairs.js';
import { sshFingerprint } from '../../compute/keypair-crypto.js';
import { invalid, notFound } from '../../errors.js';
import { API, created, listOf, objectAt, objectsOf, route } from './http.js';

const NAME = /^[\w .@-]{1,255}$/;

/** The user's keypairs, each with a uuid (given now to those made through the compute API). */
export async function userKeypairs(services: Services, userId: string): Promise<Keypair[]> {
  const db = services.db;
  const rows = await db.selectFrom('keypairs').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  for (const r of rows.filter((k) => !k.uuid)) {
    const uuid = randomUUID();
    await db.updateTable('keypairs').set({ uuid }).where('id', '=', r.id).where('uuid', 'is', null).execute();
    r.uuid = (await db.selectFrom('keypairs').select('uuid').where('id', '=', r.id).executeTakeFirst())?.uuid ?? uuid;
  }
  return rows;
}

const common = (k: Keypair) => ({ fingerprint: k.fingerprint, grantees: [], meta: {}, name: k.name, permissions: [], public_key: k.public_key, tags: [], uuid: k.uuid! });
/** `private_key` is there only in the answer that made it; afterwards null (Nimbus keeps none). */
export const keypairView = (k: Keypair, privateKey?: string) => ({ ...common(k), private_key: privateKey ?? null, resource_uri: `${API}/keypairs/${k.uuid}/` });
export const pubkeyView = (k: Keypair) => ({ ...common(k), has_private_key: !!k.has_private_key, resource_uri: `${API}/pubkeys/${k.uuid}/` });

export function keypairRoutes(api: FastifyInstance, services: Services): void {
  const db = services.db;
  const find = async (request: FastifyRequest) => {
    const { uuid } = request.params as { uuid: string };
    const k = (await userKeypairs(services, request.auth.userId)).find((x) => x.uuid === uuid);
    if (!k) throw notFound(`Keypair ${uuid} does not exist`);
    return k;
  };

  route(api, '/keypairs/', {
    GET: async (request) => listOf(request, (await userKeypairs(services, request.auth.userId)).map((k) => keypairView(k))),
    POST: async (request, reply) => {
      const bodies = objectsOf(request.body).map((o, i) => {
        const point = (f: string) => (i === 0 ? f : `objects[${i}].${f}`);
        if (typeof o.name !== 'string' || !NAME.test(o.name)) throw invalid('name is required: 1 to 255 letters, digits, spaces, . @ _ -', point('name'));
        if (o.public_key !== undefined && typeof o.public_key !== 'string') throw invalid('public_key must be a string', point('public_key'));
        if (o.private_key !== undefined && typeof o.private_key !== 'string') throw invalid('private_key must be a string', point('private_key'));
        if (o.algorithm_type !== undefined && o.algorithm_type !== 'rsa') throw invalid('algorithm_type must be rsa', point('algorithm_type'));
        return o as { name: string; public_key?: string; private_key?: string };
      });
      const answers = [];
      for (const b of bodies) {
        if (b.public_key !== undefined) {
          try {
            await sshFingerprint(b.public_key);
          } catch {
            throw invalid('public_key is not an SSH public key', 'public_key');
          }
        }
        const { keypair, privateKey } = await createKeypair(db, services.clock.now(), { userId: request.auth.userId, projectId: request.auth.projectId!, name: b.name, type: 'ssh', publicKey: b.public_key });
        const uuid = randomUUID();
        const hasPrivate = privateKey !== undefined || b.private_key !== undefined ? 1 : 0;
        await db.updateTable('keypairs').set({ uuid, has_private_key: hasPrivate }).where('id', '=', keypair.id).execute();
        answers.push(keypairView({ ...keypair, uuid, has_private_key: hasPrivate }, privateKey ?? b.private_key));
      }
      return created(reply, answers, services.config.publicUrl);
    },
  });
  route(api, '/keypairs/:uuid/', {
    GET: async (request) => keypairView(await find(request)),
    PUT: async (request) => {
      const k = await find(request);
      const body = objectAt(request.body ?? null, 'body');
      if (body.name !== undefined && body.name !== k.name) {
        if (typeof body.name !== 'string' || !NAME.test(body.name)) throw invalid('name must be 1 to 255 letters, digits, spaces, . @ _ -', 'name');
        const taken = await db.selectFrom('keypairs').select('id').where('user_id', '=', k.user_id).where('name', '=', body.name).executeTakeFirst();
        if (taken) throw invalid(`A keypair named ${body.name} exists`, 'name');
        await db.updateTable('keypairs').set({ name: body.name, updated_at: services.clock.now().toISOString() }).where('id', '=', k.id).execute();
      }
      return keypairView(await find(request));
    },
    DELETE: async (request, reply) => {
      const k = await find(request);
      await db.deleteFrom('keypairs').where('id', '=', k.id).execute();
      return reply.code(204).send();
    },
  });
  route(api, '/pubkeys/', { GET: async (request) => listOf(request, (await userKeypairs(services, request.auth.userId)).map(pubkeyView)) });
  route(api, '/pubkeys/:uuid/', { GET: async (request) => pubkeyView(await find(request)) });
}
