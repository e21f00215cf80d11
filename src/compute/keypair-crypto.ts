/**
 * The cryptography behind keypairs, as Nova does it (nova/crypto.py): an imported SSH key
 * must load as an OpenSSH public key and is fingerprinted with MD5 over its key blob; an x509
 * certificate must load as PEM and is fingerprinted with SHA-1; generated SSH keys are RSA
 * 2048, generated x509 pairs a self-signed client certificate and a PKCS#12 bundle.
 */
import { createHash, createPublicKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { invalid, NimbusError } from '../errors.js';

export type KeypairType = 'ssh' | 'x509';

const colonHex = (hex: string) => hex.toLowerCase().match(/../g)!.join(':');

/** Reads SSH wire-format fields (RFC 4251 strings and mpints), failing on truncated data. */
class SshReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  string(): Buffer {
    if (this.at + 4 > this.buf.length) throw new Error('Invalid data');
    const len = this.buf.readUInt32BE(this.at);
    if (this.at + 4 + len > this.buf.length) throw new Error('Invalid data');
    const value = this.buf.subarray(this.at + 4, this.at + 4 + len);
    this.at += 4 + len;
    return value;
  }

  /** A non-negative mpint, as cryptography accepts them. */
  mpint(): bigint {
    const bytes = this.string();
    if (bytes.length && bytes[0] > 0x7f) throw new Error('Invalid data');
    return bytes.length ? BigInt('0x' + bytes.toString('hex')) : 0n;
  }

  u32(): void {
    this.u(4);
  }

  u64(): void {
    this.u(8);
  }

  private u(n: number): void {
    if (this.at + n > this.buf.length) throw new Error('Invalid data');
    this.at += n;
  }

  get done(): boolean {
    return this.at === this.buf.length;
  }
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const der = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};

const EC_PUBLIC_KEY_OID = Buffer.from('06072a8648ce3d0201', 'hex');
const CURVES: Record<string, { name: string; oid: Buffer }> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', oid: Buffer.from('06082a8648ce3d030107', 'hex') },
  'ecdsa-sha2-nistp384': { name: 'nistp384', oid: Buffer.from('06052b81040022', 'hex') },
  'ecdsa-sha2-nistp521': { name: 'nistp521', oid: Buffer.from('06052b81040023', 'hex') },
};

/** The point must lie on the named curve: OpenSSL checks it when the key is imported. */
function loadEcdsa(reader: SshReader, keyType: string): void {
  const curve = CURVES[keyType];
  if (reader.string().toString('latin1') !== curve.name) throw new Error('Curve name mismatch');
  const point = reader.string();
  const spki = der(0x30, der(0x30, EC_PUBLIC_KEY_OID, curve.oid), der(0x03, Buffer.from([0]), point));
  createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

function loadEd25519(reader: SshReader): void {
  if (reader.string().length !== 32) throw new Error('An Ed25519 public key is 32 bytes long');
}

function loadRsa(reader: SshReader): void {
  const e = reader.mpint();
  const n = reader.mpint();
  if (n < 3n) throw new Error('n must be >= 3.');
  if (e < 3n || e >= n) throw new Error('e must be >= 3 and < n.');
  if (e % 2n === 0n) throw new Error('e must be odd.');
}

function loadDsa(reader: SshReader): void {
  const p = reader.mpint();
  const q = reader.mpint();
  const g = reader.mpint();
  reader.mpint(); // y
  if (p.toString(2).length !== 1024) throw new Error('SSH supports only 1024 bit DSA keys');
  if (![160, 224, 256].includes(q.toString(2).length)) throw new Error('Invalid q');
  if (g <= 1n || g >= p) throw new Error('Invalid g');
}

/** U2F keys (sk-*) carry an application string after the key. */
function loadApplication(reader: SshReader): void {
  if (!reader.string().toString('latin1').startsWith('ssh:')) throw new Error('U2F application string does not start with ssh:');
}

const LOADERS: Record<string, (reader: SshReader, keyType: string) => void> = {
  'ssh-rsa': loadRsa,
  'ssh-dss': loadDsa,
  'ssh-ed25519': loadEd25519,
  'ecdsa-sha2-nistp256': loadEcdsa,
  'ecdsa-sha2-nistp384': loadEcdsa,
  'ecdsa-sha2-nistp521': loadEcdsa,
  'sk-ssh-ed25519@openssh.com': (r) => (loadEd25519(r), loadApplication(r)),
  'sk-ecdsa-sha2-nistp256@openssh.com': (r) => (loadEcdsa(r, 'ecdsa-sha2-nistp256'), loadApplication(r)),
};

const CERT_SUFFIX = '-cert-v01@openssh.com';

/** The key blob of an OpenSSH public key line, or an Error saying why it does not load. */
function loadSshPublicKey(line: string): Buffer {
  const m = /^(\S+)[ \t]+(\S+)/.exec(line);
  if (!m) throw new Error('Invalid line format');
  const [, outerType, body] = m;
  const withCert = outerType.endsWith(CERT_SUFFIX);
  const keyType = withCert ? outerType.slice(0, -CERT_SUFFIX.length) : outerType;
  const load = LOADERS[keyType];
  if (!load || (withCert && keyType === 'ssh-dss')) throw new Error(`Unsupported key type: ${keyType}`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error('Invalid format');
  const blob = Buffer.from(body, 'base64');
  const reader = new SshReader(blob);
  if (reader.string().toString('latin1') !== outerType) throw new Error('Invalid key format');
  if (withCert) reader.string(); // nonce
  load(reader, keyType);
  if (withCert) {
    reader.u64(); // serial
    reader.u32(); // certificate type
    reader.string(); // key id
    reader.string(); // principals
    reader.u64(); // valid after
    reader.u64(); // valid before
    reader.string(); // critical options
    reader.string(); // extensions
    reader.string(); // reserved
    reader.string(); // signature key
    reader.string(); // signature
  }
  if (!reader.done) throw new Error('Unexpected trailing data');
  return blob;
}

/** Nova's fingerprint of an SSH public key: MD5 of the key blob, colon-separated hex. */
export function sshFingerprint(publicKey: string): string {
  try {
    const blob = loadSshPublicKey(publicKey);
    return colonHex(createHash('md5').update(blob).digest('hex'));
  } catch {
    throw invalid('Keypair data is invalid: failed to generate fingerprint');
  }
}

/** Nova's fingerprint of an x509 certificate: SHA-1 of its DER form, colon-separated hex. */
export function x509Fingerprint(pem: string): string {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  const reason = block
    ? 'error parsing asn1 value'
    : 'Unable to load PEM file. See https://cryptography.io/en/latest/faq/#why-can-t-i-import-my-pem-file for more details. MalformedFraming';
  try {
    if (!block) throw new Error(reason);
    return colonHex(new X509Certificate(block[0]).fingerprint.replace(/:/g, ''));
  } catch {
    throw invalid(`Keypair data is invalid: failed to generate X509 fingerprint. Error message: ${reason}`);
  }
}

export function fingerprint(type: KeypairType, publicKey: string): string {
  return type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
}

export interface GeneratedKeypair {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** An SSH mpint: big-endian, with a leading zero when the high bit is set. */
function sshMpint(b64url: string): Buffer {
  let bytes = Buffer.from(b64url, 'base64url');
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return sshString(bytes);
}

function sshString(bytes: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** What paramiko's RSAKey.generate(2048) gives Nova: a PKCS#1 PEM private key and an ssh-rsa line. */
export async function generateSshKeypair(): Promise<GeneratedKeypair> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshMpint(jwk.e!), sshMpint(jwk.n!)]);
  const line = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`;
  return {
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    publicKey: line,
    fingerprint: sshFingerprint(line),
  };
}

function run(command: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} exited with ${code}: ${Buffer.concat(err).toString()}`)),
    );
    child.stdin.end(input);
  });
}

/** Escapes what openssl's -subj syntax treats as separators. */
const subjectValue = (s: string) => s.replace(/[\\/=+,]/g, (c) => `\\${c}`);

/**
 * Nova's WinRM client certificate (crypto.generate_winrm_x509_cert): a self-signed certificate
 * for CN=<user id> with the user's UPN, and the key in a password-less PKCS#12 bundle, base64.
 * Like Nova, it asks the openssl command; node:crypto cannot issue certificates.
 */
export async function generateX509Keypair(userId: string): Promise<GeneratedKeypair> {
  const dir = await mkdtemp(join(tmpdir(), 'nimbus-x509-'));
  try {
    const keyFile = join(dir, 'temp.key');
    const confFile = join(dir, 'temp.conf');
    await writeFile(
      confFile,
      'distinguished_name  = req_distinguished_name\n[req_distinguished_name]\n[v3_req_client]\n' +
        `extendedKeyUsage = clientAuth\nsubjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:${userId}@localhost\n`,
    );
    const cert = await run('openssl', [
      'req', '-x509', '-nodes', '-days', '3650', '-config', confFile, '-newkey', 'rsa:2048',
      '-outform', 'PEM', '-keyout', keyFile, '-subj', `/CN=${subjectValue(userId)}`, '-extensions', 'v3_req_client',
    ]);
    const bundle = await run('openssl', ['pkcs12', '-export', '-inkey', keyFile, '-password', 'pass:'], cert);
    const certificate = cert.toString('utf8');
    return { privateKey: bundle.toString('base64'), publicKey: certificate, fingerprint: x509Fingerprint(certificate) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NimbusError('not_implemented', 'Generating x509 keypairs needs the openssl command, which is not installed.');
    }
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
