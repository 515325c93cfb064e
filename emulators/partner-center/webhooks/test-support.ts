// Test helpers for the webhook hub suites: a receiver that records raw requests, and an https download
// that trusts only a given CA.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { get } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  body: string;
  headers: IncomingHttpHeaders;
  url: string;
}

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  /** Answers the next requests with these statuses, then with `defaultStatus`. */
  respondWith(...statuses: number[]): void;
  defaultStatus: number;
  clear(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const queued: number[] = [];
  const receiver = {
    url: '',
    received,
    defaultStatus: 200,
    respondWith: (...statuses: number[]) => queued.push(...statuses),
    clear: () => {
      received.length = 0;
      queued.length = 0;
      receiver.defaultStatus = 200;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
        url: req.url ?? '',
      });
      const status = queued.shift() ?? receiver.defaultStatus;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? '' : `receiver says ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/partner-center`;
  return receiver;
}

/** GETs an https URL trusting only `caPem` (no system roots). */
export function httpsGetTrusting(url: string, caPem: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { ca: caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
