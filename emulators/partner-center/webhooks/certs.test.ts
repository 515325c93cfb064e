import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createHubCertificates,
  restoreHubCertificates,
  signingCertificateDer,
  tlsHostsFor,
} from './certs.ts';
import { statusCodeName } from './delivery.ts';
import { buildEventBody, formatResourceChangeUtcDate } from './events.ts';

describe('emulator certificates', () => {
  const certs = createHubCertificates('127.0.0.1');
  const ca = new X509Certificate(certs.caCertPem);

  it('R2 are a root, an issuing CA of O=Microsoft Corporation, a Microsoft-named signing leaf it issued, and a loopback TLS certificate', () => {
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=cosell Partner Center Emulator Root CA\nO=cosell emulator');
    const issuing = new X509Certificate(certs.issuingCertPem!);
    expect(issuing.ca).toBe(true);
    expect(issuing.subject).toContain('O=Microsoft Corporation');
    expect(issuing.checkIssued(ca) && issuing.verify(ca.publicKey)).toBe(true);
    const leaf = new X509Certificate(signingCertificateDer(certs));
    expect(leaf.subject).toContain('CN=pcnotifications-dispatch.microsoft.com');
    expect(leaf.subject).toContain('O=Microsoft Corporation');
    expect(leaf.issuer).toContain('O=Microsoft Corporation');
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(issuing) && leaf.verify(issuing.publicKey)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(false);
    const tls = new X509Certificate(certs.tlsCertPem);
    expect(tls.checkIssued(ca) && tls.verify(ca.publicKey)).toBe(true);
    expect(tls.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(tls.checkHost('localhost')).toBe('localhost');
  });

  it('keep the CA and signing key on restore, re-issuing only the TLS certificate for a new host', () => {
    expect(restoreHubCertificates(certs, 'localhost')).toBe(certs);
    // A state file from before the issuing CA gets one, under the same root.
    const { issuingCertPem: _c, issuingKeyPem: _k, ...old } = certs;
    const upgraded = restoreHubCertificates(old, 'localhost');
    expect(new X509Certificate(upgraded.issuingCertPem!).verify(ca.publicKey)).toBe(true);
    const moved = restoreHubCertificates(certs, 'emulator.internal');
    expect(moved.caCertPem).toBe(certs.caCertPem);
    expect(moved.signingKeyPem).toBe(certs.signingKeyPem);
    const tls = new X509Certificate(moved.tlsCertPem);
    expect(tls.checkHost('emulator.internal')).toBe('emulator.internal');
    expect(tls.verify(ca.publicKey)).toBe(true);
    expect(tlsHostsFor('0.0.0.0')).toEqual(['127.0.0.1', 'localhost', '::1']);
  });
});

describe('event wire format', () => {
  it('writes ResourceChangeUtcDate with 7 fractional digits and +00:00', () => {
    expect(formatResourceChangeUtcDate(new Date('2026-11-20T10:00:00.123Z'))).toBe(
      '2026-11-20T10:00:00.1230000+00:00',
    );
    expect(
      buildEventBody({
        eventName: 'test-created',
        resourceUri: 'u',
        changedAt: new Date('2026-11-20T10:00:00Z'),
      }),
    ).toBe(
      '{"EventName":"test-created","ResourceUri":"u","ResourceName":"test","AuditUri":null,"ResourceChangeUtcDate":"2026-11-20T10:00:00.0000000+00:00"}',
    );
  });

  it('names HTTP statuses like .NET HttpStatusCode for validation results', () => {
    expect(statusCodeName(200)).toBe('OK');
    expect(statusCodeName(500)).toBe('InternalServerError');
    expect(statusCodeName(404)).toBe('NotFound');
  });
});
