// The control API under /_emulator: act as a Microsoft seller or as Partner Center itself, seed, reset.
// No auth: it stands for things no partner can do, and tests and scripts drive it directly.
import type { FastifyInstance } from 'fastify';
import { isRecord, PartnerCenterError } from './http.ts';
import { renderReferral, requestBase } from './referrals.ts';
import type { MicrosoftDecision, ReferralStore } from './store.ts';

export interface ControlRoutesOptions {
  store: ReferralStore;
  /** Back to the start state (referrals from the seed file, demo users, no tokens/faults/counters, webhooks reset). */
  reset: () => void;
  /** Loads `{referrals: [...], users?: [...]}`; returns the ids put in. */
  seed: (body: unknown) => string[];
}

const DECISIONS: readonly MicrosoftDecision[] = ['accept', 'decline', 'close-won', 'close-lost'];

export function registerControlRoutes(
  app: FastifyInstance,
  prefix: string,
  options: ControlRoutesOptions,
): void {
  const { store } = options;

  app.get(`${prefix}/referrals`, async (request) => {
    const base = requestBase(request);
    return { value: store.all().map((referral) => renderReferral(referral, base)), count: store.size };
  });

  app.get(`${prefix}/referrals/:id`, async (request) => {
    const { id } = request.params as { id: string };
    const referral = store.get(id);
    if (!referral)
      throw new PartnerCenterError(404, 'itemNotFound', `Referral '${id}' was not found.`, 'referral');
    return renderReferral(referral, requestBase(request));
  });

  app.post(`${prefix}/incoming-referrals`, async (request, reply) => {
    const referral = store.createIncoming(request.body ?? {});
    return reply.code(201).send(renderReferral(referral, requestBase(request)));
  });

  app.patch(`${prefix}/referrals/:id`, async (request) => {
    const { id } = request.params as { id: string };
    return renderReferral(store.editAsMicrosoft(id, request.body ?? {}), requestBase(request));
  });

  for (const decision of DECISIONS) {
    app.post(`${prefix}/referrals/:id/${decision}`, async (request) => {
      const { id } = request.params as { id: string };
      const reason =
        isRecord(request.body) && typeof request.body.statusReason === 'string'
          ? request.body.statusReason
          : undefined;
      return renderReferral(store.decideAsMicrosoft(id, decision, reason), requestBase(request));
    });
  }

  app.post(`${prefix}/referrals/:id/expire`, async (request) => {
    const { id } = request.params as { id: string };
    return renderReferral(store.expire(id), requestBase(request));
  });

  // Seeds for backfill benchmarks hold 100k referrals: far above the API's 1 MB body limit.
  app.post(`${prefix}/seed`, { bodyLimit: 1024 * 1024 * 1024 }, async (request) => {
    const ids = options.seed(request.body);
    return { seeded: ids.length, ids };
  });

  app.post(`${prefix}/reset`, async () => {
    options.reset();
    return { reset: true, referrals: store.size };
  });
}
