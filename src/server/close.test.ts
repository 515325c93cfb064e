// Stopping cosell while Partner Center is delivering: the delivery in flight is answered, and the server stops
// at once instead of holding the keep-alive socket open until its timeout (Fastify's is 72 s).
import type { X509Certificate } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { until } from '../../test/helpers/until.ts';
import { buildServer, STOP_GRACE_MS } from './app.ts';
import { createLogger } from './logger.ts';

const quietLogger = () =>
  createLogger({
    level: 'fatal',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });

function post(url: URL, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('stopping the webhook server', () => {
  it('R1 a delivery in flight when cosell stops is answered, and the server stops within seconds', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived = false;
    const server = await buildServer({
      webhooks: [
        {
          path: '/webhooks/partner-center',
          tenantId: 'default',
          engine: {
            async acceptWebhook() {
              arrived = true;
              await gate;
              return { duplicate: false };
            },
          },
          verifySignature: async () => ({ ok: true, certificate: {} as X509Certificate }),
        },
      ],
      checkStore: async () => {},
      isReady: () => true,
      logger: quietLogger(),
      bodyLimit: 4096,
    });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    const agent = new Agent({ keepAlive: true });
    const event = JSON.stringify({ EventName: 'referral-created', ResourceUri: 'https://x/referrals/1' });
    const answered = post(new URL(`${address}/webhooks/partner-center`), agent, event);
    await until(() => arrived, 5_000, 'the delivery at the engine');

    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    release();
    expect(await answered).toBeLessThan(500);
    try {
      await until(() => closed, 5_000, 'the server closed within 5 s of the last delivery');
    } finally {
      agent.destroy();
      await closing;
    }
  });

  it('R1 a caller that opened a connection and never finished its request does not hold the stop', async () => {
    const server = await buildServer({
      webhooks: [
        {
          path: '/webhooks/partner-center',
          tenantId: 'default',
          engine: { acceptWebhook: async () => ({ duplicate: false }) },
          verifySignature: async () => ({ ok: true, certificate: {} as X509Certificate }),
        },
      ],
      checkStore: async () => {},
      logger: quietLogger(),
      bodyLimit: 4096,
    });
    const address = new URL(await server.listen({ port: 0, host: '127.0.0.1' }));
    // Half a request: Node counts the connection as active, so closing the idle ones leaves it open until its
    // header timeout (60 s) is swept.
    const socket = connect({ host: address.hostname, port: Number(address.port), allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /webhooks/partner-center HTTP/1.1\r\nHost: cosell\r\n');
    socket.on('error', () => {});

    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    try {
      await until(() => closed, STOP_GRACE_MS + 5_000, 'the server closed soon after its grace');
    } finally {
      socket.destroy();
      await closing;
    }
  });
});
