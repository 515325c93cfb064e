// Delivers events the way Partner Center does: signed POSTs, success = 2xx, up to 10 attempts with
// backoff, then the "offline queue" (recorded, never retried). Every event lands in a delivery log that the
// control API shows, and scripted misbehaviour (drop / duplicate / reorder / delay) lets tests prove that a
// receiver copes with at-least-once, unordered delivery.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { z } from 'zod';
import { DELIVERY_LOG_LIMIT, MAX_DELIVERY_ATTEMPTS, WEBHOOK_EVENT_NAMES } from './events.ts';

export const BEHAVIOUR_MODES = ['normal', 'drop', 'duplicate', 'reorder', 'delay'] as const;
export type BehaviourMode = (typeof BEHAVIOUR_MODES)[number];

export const behaviourSchema = z.object({
  mode: z.enum(BEHAVIOUR_MODES),
  /** How many more events the mode applies to; back to normal after that. */
  remaining: z.number().int().min(0),
  /** Batch size for reorder (events are held until this many arrived). */
  count: z.number().int().min(0),
  delayMs: z.number().min(0),
});
export type Behaviour = z.infer<typeof behaviourSchema>;
export const NORMAL_BEHAVIOUR: Behaviour = { mode: 'normal', remaining: 0, count: 0, delayMs: 0 };

export const DELIVERY_STATES = [
  /** Waiting for its first attempt. */
  'pending',
  /** At least one attempt failed; another is scheduled (`nextAttemptAt`). */
  'retrying',
  'delivered',
  /** All attempts failed: Partner Center's offline queue. Not retried unless redelivered by hand. */
  'offline',
  /** Not sent: behaviour 'drop'. */
  'dropped',
  /** Held back by behaviour 'reorder' until the batch is complete. */
  'held',
  /** Waiting out behaviour 'delay'. */
  'delayed',
  /** Not sent because no registration includes this event. */
  'unsubscribed',
  /** Stopped by reset, a cleared log or shutdown. */
  'cancelled',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
const FINAL_STATES: readonly DeliveryState[] = [
  'delivered',
  'offline',
  'dropped',
  'unsubscribed',
  'cancelled',
];

export const deliveryAttemptSchema = z.object({
  number: z.number(),
  at: z.string(),
  /** HTTP status of the receiver's answer; null when no answer (connection refused, timeout). */
  status: z.number().nullable(),
  error: z.string().nullable(),
  /** Start of the receiver's answer, for the validation-event results. */
  responseBody: z.string(),
  durationMs: z.number(),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

export const deliveryRecordSchema = z.object({
  id: z.string(),
  eventName: z.enum(WEBHOOK_EVENT_NAMES),
  referralId: z.string().nullable(),
  correlationId: z.string().nullable(),
  url: z.string().nullable(),
  signatureHeader: z.enum(['authorization', 'x-ms-signature']).nullable(),
  body: z.string(),
  state: z.enum(DELIVERY_STATES),
  reason: z.string().nullable(),
  behaviour: z.enum(BEHAVIOUR_MODES).nullable(),
  duplicateOf: z.string().nullable(),
  redeliveryOf: z.string().nullable(),
  attempts: z.array(deliveryAttemptSchema),
  createdAt: z.string(),
  nextAttemptAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

/** Where an event goes; null when nobody subscribed (then `reason` says why). */
export type DeliveryTarget = { url: string; useMsSignatureHeader: boolean } | { url: null; reason: string };

export interface OutgoingEvent {
  eventName: DeliveryRecord['eventName'];
  referralId: string | null;
  correlationId: string | null;
  body: string;
  target: DeliveryTarget;
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface DeliveryQueueOptions {
  retryDelaysMs: number[];
  /** Builds the signed headers for one POST. */
  headersFor: (body: string, useMsSignatureHeader: boolean) => Record<string, string>;
  sleep?: Sleep;
  clock?: () => Date;
  /** Per attempt; a receiver that hangs counts as a failed attempt. */
  attemptTimeoutMs?: number;
  onAttempt?: (record: DeliveryRecord, attempt: DeliveryAttempt) => void;
  onChange?: () => void;
}

const RESPONSE_BODY_LIMIT = 1_024;

const defaultSleep: Sleep = (ms, signal) => sleepFor(ms, undefined, { signal });

/** `Internal Server Error` -> `InternalServerError`: the .NET HttpStatusCode names that validation
 *  results carry (`responseCode: "OK"`). */
export function statusCodeName(status: number): string {
  return (STATUS_CODES[status] ?? String(status)).replace(/[^A-Za-z0-9]/g, '');
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name === 'TimeoutError' ? 'timed out' : error.message}${cause}`;
}

export class DeliveryQueue {
  private records: DeliveryRecord[] = [];
  private readonly controllers = new Map<string, AbortController>();
  private held: DeliveryRecord[] = [];
  private behaviour: Behaviour = { ...NORMAL_BEHAVIOUR };
  private closed = false;
  private readonly sleep: Sleep;
  private readonly clock: () => Date;

  constructor(private readonly options: DeliveryQueueOptions) {
    this.sleep = options.sleep ?? defaultSleep;
    this.clock = options.clock ?? (() => new Date());
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private changed(): void {
    this.options.onChange?.();
  }

  private newRecord(event: OutgoingEvent, extra: Partial<DeliveryRecord> = {}): DeliveryRecord {
    const record: DeliveryRecord = {
      id: randomUUID(),
      eventName: event.eventName,
      referralId: event.referralId,
      correlationId: event.correlationId,
      url: event.target.url,
      signatureHeader:
        event.target.url === null
          ? null
          : event.target.useMsSignatureHeader
            ? 'x-ms-signature'
            : 'authorization',
      body: event.body,
      state: 'pending',
      reason: event.target.url === null ? event.target.reason : null,
      behaviour: null,
      duplicateOf: null,
      redeliveryOf: null,
      attempts: [],
      createdAt: this.now(),
      nextAttemptAt: null,
      finishedAt: null,
      ...extra,
    };
    this.records.push(record);
    this.trimLog();
    return record;
  }

  /** Keeps the log bounded; only finished records are forgotten. */
  private trimLog(): void {
    let excess = this.records.length - DELIVERY_LOG_LIMIT;
    if (excess <= 0) return;
    this.records = this.records.filter(
      (r) => excess <= 0 || !FINAL_STATES.includes(r.state) || excess-- <= 0,
    );
  }

  private finish(record: DeliveryRecord, state: DeliveryState, reason: string | null = record.reason): void {
    record.state = state;
    record.reason = reason;
    record.nextAttemptAt = null;
    record.finishedAt = this.now();
    this.controllers.delete(record.id);
    this.changed();
  }

  /** Accepts one event: logs it and, unless a behaviour says otherwise, starts delivering it. */
  enqueue(event: OutgoingEvent): DeliveryRecord[] {
    if (this.closed) return [];
    if (event.target.url === null) {
      const record = this.newRecord(event);
      this.finish(record, 'unsubscribed');
      return [record];
    }
    const { mode, delayMs } = this.behaviour.remaining > 0 ? this.behaviour : NORMAL_BEHAVIOUR;
    if (mode !== 'normal') this.behaviour.remaining--;
    const lastOfBatch = this.behaviour.remaining === 0;
    if (lastOfBatch) this.behaviour = { ...NORMAL_BEHAVIOUR };
    const behaviour = mode === 'normal' ? null : mode;
    const record = this.newRecord(event, { behaviour });
    const records = [record];
    switch (mode) {
      case 'normal':
        void this.start(record);
        break;
      case 'drop':
        this.finish(record, 'dropped', 'dropped by the emulator behaviour "drop"');
        break;
      case 'duplicate': {
        const copy = this.newRecord(event, { behaviour, duplicateOf: record.id });
        records.push(copy);
        void this.start(record);
        void this.start(copy);
        break;
      }
      case 'delay':
        void this.startAfter(record, delayMs);
        break;
      case 'reorder':
        record.state = 'held';
        this.held.push(record);
        if (lastOfBatch) void this.releaseHeld();
        break;
    }
    this.changed();
    return records;
  }

  /** Sends held events newest first; each one's first attempt completes before the next starts, so a
   *  receiver really sees them in reverse order. */
  private async releaseHeld(): Promise<void> {
    const batch = this.held.reverse();
    this.held = [];
    for (const record of batch) {
      if (record.state !== 'held') continue;
      record.state = 'pending';
      await this.start(record);
    }
  }

  private async startAfter(record: DeliveryRecord, delayMs: number): Promise<void> {
    const controller = this.controllerFor(record);
    record.state = 'delayed';
    record.nextAttemptAt = new Date(this.clock().getTime() + delayMs).toISOString();
    try {
      await this.sleep(delayMs, controller.signal);
    } catch {
      return;
    }
    if (record.state !== 'delayed') return;
    record.state = 'pending';
    await this.start(record);
  }

  private controllerFor(record: DeliveryRecord): AbortController {
    let controller = this.controllers.get(record.id);
    if (!controller) {
      controller = new AbortController();
      this.controllers.set(record.id, controller);
    }
    return controller;
  }

  /** Runs the attempt loop in the background; the returned promise settles after the first attempt. */
  private start(record: DeliveryRecord): Promise<void> {
    return new Promise((firstAttemptDone) => {
      void this.run(record, firstAttemptDone);
    });
  }

  private async run(record: DeliveryRecord, firstAttemptDone: () => void): Promise<void> {
    const controller = this.controllerFor(record);
    const delays = this.options.retryDelaysMs.length > 0 ? this.options.retryDelaysMs : [0];
    try {
      while (!controller.signal.aborted) {
        const attempt = await this.attempt(record, controller.signal);
        if (controller.signal.aborted) return;
        record.attempts.push(attempt);
        this.options.onAttempt?.(record, attempt);
        firstAttemptDone();
        if (attempt.status !== null && attempt.status >= 200 && attempt.status < 300) {
          this.finish(record, 'delivered');
          return;
        }
        if (record.attempts.length >= MAX_DELIVERY_ATTEMPTS) {
          this.finish(
            record,
            'offline',
            `${MAX_DELIVERY_ATTEMPTS} attempts failed; moved to the offline queue (not retried)`,
          );
          return;
        }
        const delay = delays[Math.min(record.attempts.length - 1, delays.length - 1)]!;
        record.state = 'retrying';
        record.nextAttemptAt = new Date(this.clock().getTime() + delay).toISOString();
        this.changed();
        try {
          await this.sleep(delay, controller.signal);
        } catch {
          return;
        }
      }
    } finally {
      firstAttemptDone();
    }
  }

  private async attempt(record: DeliveryRecord, signal: AbortSignal): Promise<DeliveryAttempt> {
    const started = this.clock();
    const startedMs = performance.now();
    const base = { number: record.attempts.length + 1, at: started.toISOString() };
    try {
      const response = await fetch(record.url!, {
        method: 'POST',
        headers: this.options.headersFor(record.body, record.signatureHeader === 'x-ms-signature'),
        body: record.body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 10_000)]),
      });
      const text = await response.text().catch(() => '');
      return {
        ...base,
        status: response.status,
        error: null,
        responseBody: text.slice(0, RESPONSE_BODY_LIMIT),
        durationMs: Math.round(performance.now() - startedMs),
      };
    } catch (error) {
      return {
        ...base,
        status: null,
        error: describeFetchError(error),
        responseBody: '',
        durationMs: Math.round(performance.now() - startedMs),
      };
    }
  }

  /** Sends a logged event again as a new record, to the current registration, ignoring behaviours. */
  redeliver(id: string, target: DeliveryTarget): DeliveryRecord | undefined {
    const original = this.records.find((r) => r.id === id);
    if (!original) return undefined;
    const event: OutgoingEvent = { ...original, target };
    if (target.url === null) {
      const record = this.newRecord(event, { redeliveryOf: id });
      this.finish(record, 'unsubscribed');
      return record;
    }
    const record = this.newRecord(event, { redeliveryOf: id });
    void this.start(record);
    this.changed();
    return record;
  }

  /** Sets the misbehaviour for the next events. Events a previous 'reorder' still holds are released. */
  setBehaviour(mode: BehaviourMode, count = 1, delayMs = 0): Behaviour {
    if (this.held.length > 0) void this.releaseHeld();
    this.behaviour =
      mode === 'normal' || count === 0 ? { ...NORMAL_BEHAVIOUR } : { mode, remaining: count, count, delayMs };
    this.changed();
    return { ...this.behaviour };
  }

  getBehaviour(): Behaviour {
    return { ...this.behaviour };
  }

  list(): DeliveryRecord[] {
    return this.records;
  }

  get(id: string): DeliveryRecord | undefined {
    return this.records.find((r) => r.id === id);
  }

  /** Empties the log; deliveries still under way stop. */
  clear(): void {
    for (const controller of this.controllers.values()) controller.abort();
    this.controllers.clear();
    for (const record of this.records) {
      if (!FINAL_STATES.includes(record.state)) this.finish(record, 'cancelled', 'delivery log cleared');
    }
    this.records = [];
    this.held = [];
    this.changed();
  }

  reset(): void {
    this.clear();
    this.behaviour = { ...NORMAL_BEHAVIOUR };
  }

  close(): void {
    this.closed = true;
    for (const controller of this.controllers.values()) controller.abort();
    this.controllers.clear();
  }

  toJSON(): { deliveries: DeliveryRecord[]; behaviour: Behaviour } {
    return { deliveries: this.records, behaviour: this.behaviour };
  }

  /** Loads a saved log. Deliveries that were under way when the emulator stopped are not resumed: they
   *  end up where Partner Center puts undeliverable events, the offline queue. */
  restore(saved: { deliveries: DeliveryRecord[]; behaviour: Behaviour }): void {
    this.records = saved.deliveries;
    for (const record of this.records) {
      if (!FINAL_STATES.includes(record.state)) {
        record.state = 'offline';
        record.reason = 'the emulator stopped before this delivery finished';
        record.nextAttemptAt = null;
        record.finishedAt ??= this.now();
      }
    }
    this.behaviour = saved.behaviour.mode === 'reorder' ? { ...NORMAL_BEHAVIOUR } : saved.behaviour;
  }
}
