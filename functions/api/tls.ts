/**
 * The embedded shape's TLS: a cluster CA and a serving certificate for 127.0.0.1 and
 * localhost, made once and kept in the data directory (kubectl sends bearer tokens only over
 * https, so the API must be https from the start). Keys come from Node's crypto; node-forge
 * (pure JS, well kept) writes the X.509 certificates, which Node cannot do by itself.
 */
import forge from 'node-forge';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsMaterial {
  caCert: string;
  cert: string;
  key: string;
}

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

function certificate(options: {
  subject: string;
  issuer: string;
  publicKey: forge.pki.PublicKey;
  signingKeyPem: string;
  years: number;
  ca: boolean;
  altNames?: { dns: string[]; ips: string[] };
}): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = options.publicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + options.years * 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: options.subject }]);
  cert.setIssuer([{ name: 'commonName', value: options.issuer }]);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: options.ca, critical: true },
    options.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
  ];
  if (!options.ca) extensions.push({ name: 'extKeyUsage', serverAuth: true });
  if (options.altNames) {
    extensions.push({
      name: 'subjectAltName',
      altNames: [...options.altNames.dns.map((value) => ({ type: 2, value })), ...options.altNames.ips.map((ip) => ({ type: 7, ip }))],
    });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(options.signingKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Loads the CA and serving certificate from `dir`, making them the first time. */
export function ensureTls(dir: string, extra: { dns?: string[]; ips?: string[] } = {}): TlsMaterial {
  const paths = { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'apiserver.crt'), key: join(dir, 'apiserver.key') };
  if (Object.values(paths).every(existsSync)) {
    return { caCert: readFileSync(paths.caCert, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), key: readFileSync(paths.key, 'utf8') };
  }
  mkdirSync(dir, { recursive: true });
  const ca = keyPair();
  const caCert = certificate({ subject: 'skiff-ca', issuer: 'skiff-ca', publicKey: ca.publicKey, signingKeyPem: ca.privatePem, years: 10, ca: true });
  const server = keyPair();
  const cert = certificate({
    subject: 'skiff-apiserver',
    issuer: 'skiff-ca',
    publicKey: server.publicKey,
    signingKeyPem: ca.privatePem,
    years: 5,
    ca: false,
    altNames: { dns: ['localhost', 'kubernetes', 'kubernetes.default', ...(extra.dns ?? [])], ips: ['127.0.0.1', '::1', ...(extra.ips ?? [])] },
  });
  writeFileSync(paths.caKey, ca.privatePem, { mode: 0o600 });
  writeFileSync(paths.caCert, caCert);
  writeFileSync(paths.key, server.privatePem, { mode: 0o600 });
  writeFileSync(paths.cert, cert);
  return { caCert, cert, key: server.privatePem };
}

/**
 * A kubelet's serving certificate, signed by the cluster CA in `pkiDir` for the node's
 * addresses: the API reaches kubelets only over TLS it checks against that CA (pinned), so a
 * host that is not a kubelet this cluster started cannot answer in one's place.
 */
export function issueKubeletCert(pkiDir: string, node: string, ips: string[]): { cert: string; key: string } {
  return signKubeletCert(readFileSync(join(pkiDir, 'ca.key'), 'utf8'), node, ips);
}

/** A kubelet's serving certificate for its addresses, signed with the cluster CA's key (PEM). */
export function signKubeletCert(caKey: string, node: string, ips: string[]): { cert: string; key: string } {
  return signServingCert(caKey, `system:node:${node}`, { dns: [node], ips });
}

/** A serving certificate for these names and addresses, signed with the cluster CA's key (PEM), for a year. */
export function signServingCert(caKey: string, subject: string, altNames: { dns: string[]; ips: string[] }): { cert: string; key: string } {
  const pair = keyPair();
  const cert = certificate({ subject, issuer: 'skiff-ca', publicKey: pair.publicKey, signingKeyPem: caKey, years: 1, ca: false, altNames });
  return { cert, key: pair.privatePem };
}
