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
import type SshPk from 'sshpk';
import { invalid, NimbusError } from '../errors.js';

export type KeypairType = 'ssh' | 'x509';

const colonHex = (hex: string) => hex.toLowerCase().match(/../g)!.join(':');

const CERT_SUFFIX = '-cert-v01@openssh.com';

/** sshpk, loaded when a key is first read: evaluating it at start was a tenth of the start. */
export async function loadSshpk(): Promise<typeof SshPk> {
  return (await import('sshpk')).default;
}

const bits = (part: SshPk.KeyPart) => BigInt('0x' + (part.data.toString('hex') || '0')).toString(2).length;

/**
 * Loads an OpenSSH public key line (or an OpenSSH certificate) as Nova's loader
 * (cryptography's load_ssh_public_key) would, or throws saying why not: sshpk parses the
 * wire format, OpenSSL (through node:crypto) then imports the key, which checks what sshpk
 * does not (an EC point on its curve), and the few rules cryptography adds are checked on
 * the parts sshpk gives. FIDO (sk-*) keys are refused, as cryptography 38 refuses them.
 */
function loadSshPublicKey(sshpk: typeof SshPk, line: string): Buffer {
  const m = /^(\S+)[ \t]+(\S+)/.exec(line);
  if (!m) throw new Error('Invalid line format');
  const [, type, body] = m;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error('Invalid format');
  // A certificate's key is read again from its SSH form: sshpk keeps an ed25519 key read
  // from a certificate with a leading zero byte, which its PKCS#8 export then carries.
  const key = type.endsWith(CERT_SUFFIX) ? sshpk.parseKey(sshpk.parseCertificate(line, 'openssh').subjectKey.toBuffer('ssh'), 'ssh') : sshpk.parseKey(line, 'ssh');
  createPublicKey(key.toString('pkcs8'));
  const part = key.part as unknown as Record<string, SshPk.KeyPart>;
  if (key.type === 'rsa') {
    const e = BigInt('0x' + part.e.data.toString('hex'));
    if (e < 3n || e % 2n === 0n) throw new Error('e must be odd and >= 3');
  }
  if (key.type === 'dsa' && (bits(part.p) !== 1024 || ![160, 224, 256].includes(bits(part.q)))) throw new Error('SSH supports only 1024 bit DSA keys');
  return Buffer.from(body, 'base64');
}

/** Nova's fingerprint of an SSH public key: MD5 of the key blob as given, colon-separated hex. */
export async function sshFingerprint(publicKey: string): Promise<string> {
  const sshpk = await loadSshpk();
  try {
    const blob = loadSshPublicKey(sshpk, publicKey);
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

export async function fingerprint(type: KeypairType, publicKey: string): Promise<string> {
  return type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
}

export interface GeneratedKeypair {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** What paramiko's RSAKey.generate(2048) gives Nova: a PKCS#1 PEM private key and an ssh-rsa line. */
export async function generateSshKeypair(): Promise<GeneratedKeypair> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const sshpk = await loadSshpk();
  const key = sshpk.parseKey(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'pem');
  key.comment = 'Generated-by-Nova';
  const line = key.toString('ssh');
  return {
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    publicKey: line,
    fingerprint: await sshFingerprint(line),
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
