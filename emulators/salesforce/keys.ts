/**
 * The demo connected app's JWT key pair: a private key (what an admin keeps for cosell) and a self-signed
 * certificate (what an admin uploads to the External Client App). Written to disk so a client can be pointed at
 * the files exactly as in production; reused when the directory already holds them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface JwtKeyFiles {
  dir: string;
  /** True when the directory is a fresh temp dir the caller should remove when done. */
  temporary: boolean;
  privateKeyPath: string;
  certificatePath: string;
  certificatePem: string;
}

function selfSignedCertificate(privateKeyPem: string, publicKeyPem: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 5 * 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: 'cosell-emulator-demo' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

let generated: { privateKeyPem: string; certificatePem: string } | undefined;

/** One demo key pair per process: RSA generation is slow, and the demo app needs no per-start secrecy. */
function demoKeyMaterial(): { privateKeyPem: string; certificatePem: string } {
  if (!generated) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    generated = { privateKeyPem: privateKey, certificatePem: selfSignedCertificate(privateKey, publicKey) };
  }
  return generated;
}

/** Creates (or reuses) `server.key` and `server.crt` in `dir`; a fresh temp dir when none is given. */
export function ensureJwtKeyFiles(dir?: string): JwtKeyFiles {
  const target = dir ?? mkdtempSync(join(tmpdir(), 'cosell-sf-emulator-'));
  mkdirSync(target, { recursive: true });
  const privateKeyPath = join(target, 'server.key');
  const certificatePath = join(target, 'server.crt');
  if (!existsSync(privateKeyPath) || !existsSync(certificatePath)) {
    const material = demoKeyMaterial();
    writeFileSync(privateKeyPath, material.privateKeyPem, { mode: 0o600 });
    writeFileSync(certificatePath, material.certificatePem);
  }
  return {
    dir: target,
    temporary: dir === undefined,
    privateKeyPath,
    certificatePath,
    certificatePem: readFileSync(certificatePath, 'utf8'),
  };
}
