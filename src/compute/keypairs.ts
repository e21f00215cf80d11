/**
 * Keypairs belong to a user, not a project (as in Nova's API database): a user sees the same
 * keypairs from every project, and names are unique per user. The private key of a generated
 * pair is handed back once and never stored.
 */
import type { Kysely, Selectable } from 'kysely';
import type { KeypairTable, Schema } from '../db/schema.js';
import { conflict, invalid, notFound } from '../errors.js';
import { fingerprint, generateSshKeypair, generateX509Keypair, loadSshpk, type KeypairType } from './keypair-crypto.js';
import { enforce } from './quotas.js';

export type Keypair = Selectable<KeypairTable>;

export interface NewKeypair {
  /** Whose keypair it is (an admin may create one for another user). */
  userId: string;
  /** The caller's project, whose key_pairs limit applies. */
  projectId: string;
  name: string;
  type: KeypairType;
  /** Imported key; without it a pair is generated. */
  publicKey?: string;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '');
}

const keypairExists = (name: string) => conflict(`Key pair '${name}' already exists.`);

/**
 * Imports or generates a keypair. Checked in Nova's order: the key_pairs quota (403), then the
 * key itself (400), then the name (409).
 */
export async function createKeypair(db: Kysely<Schema>, now: Date, input: NewKeypair): Promise<{ keypair: Keypair; privateKey?: string }> {
  // Generating takes a while: do it before the transaction, not while holding it.
  const generated =
    input.publicKey === undefined ? await (input.type === 'x509' ? generateX509Keypair(input.userId) : generateSshKeypair()) : undefined;
  await loadSshpk(); // loaded once, on the first keypair: not while the transaction holds the database
  try {
    const keypair = await db.transaction().execute(async (tx) => {
      await enforce(tx, input.projectId, input.userId, { key_pairs: 1 });
      const publicKey = generated?.publicKey ?? input.publicKey!;
      const print = generated?.fingerprint ?? (await fingerprint(input.type, publicKey));
      const taken = await tx.selectFrom('keypairs').select('id').where('user_id', '=', input.userId).where('name', '=', input.name).executeTakeFirst();
      if (taken) throw keypairExists(input.name);
      return tx
        .insertInto('keypairs')
        .values({
          user_id: input.userId,
          name: input.name,
          type: input.type,
          fingerprint: print,
          public_key: publicKey,
          created_at: now.toISOString(),
          updated_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return { keypair, privateKey: generated?.privateKey };
  } catch (err) {
    if (isUniqueViolation(err)) throw keypairExists(input.name);
    throw err;
  }
}

const keypairNotFound = (name: string, userId: string) => notFound(`Keypair ${name} not found for user ${userId}`);

/**
 * A user's keypair by name, or undefined: the one lookup of every path that takes a key
 * name (the keypair routes, server create and rebuild). Keypairs are the user's own; no
 * one else's key is ever found, whatever their role.
 */
export async function findKeypair(db: Kysely<Schema>, userId: string, name: string): Promise<Keypair | undefined> {
  return db.selectFrom('keypairs').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
}

export async function getKeypair(db: Kysely<Schema>, userId: string, name: string): Promise<Keypair> {
  const row = await findKeypair(db, userId, name);
  if (!row) throw keypairNotFound(name, userId);
  return row;
}

/** A user's keypairs by name; `marker` is the last name of the previous page. */
export async function listKeypairs(db: Kysely<Schema>, userId: string, page: { limit?: number; marker?: string } = {}): Promise<Keypair[]> {
  let query = db.selectFrom('keypairs').selectAll().where('user_id', '=', userId).orderBy('name', 'asc');
  if (page.marker !== undefined) {
    const marker = await db.selectFrom('keypairs').select('name').where('user_id', '=', userId).where('name', '=', page.marker).executeTakeFirst();
    if (!marker) throw invalid(`Marker ${page.marker} could not be found.`);
    query = query.where('name', '>', page.marker);
  }
  if (page.limit !== undefined) query = query.limit(page.limit);
  return query.execute();
}

export async function deleteKeypair(db: Kysely<Schema>, userId: string, name: string): Promise<void> {
  const result = await db.deleteFrom('keypairs').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw keypairNotFound(name, userId);
}
