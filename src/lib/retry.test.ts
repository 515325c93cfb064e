import { describe, expect, it } from 'vitest';
import { computeRetryDelay, parseRetryAfter, type RetryPolicy, withRetry } from './retry.ts';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 };
const NOW = Date.parse('2026-11-20T10:00:00Z');

describe('computeRetryDelay', () => {
  it.each([
    // attempt, random, retryAfter, expected ms
    [1, 1, undefined, 100],
    [2, 1, undefined, 200],
    [3, 1, undefined, 400],
    [4, 1, undefined, 800],
    [5, 1, undefined, 1_000], // capped by maxDelayMs
    [60, 1, undefined, 1_000], // 2^59 does not overflow the cap
    [3, 0.5, undefined, 200], // full jitter: a fraction of the ceiling
    [3, 0, undefined, 0],
    [1, 1, '7', 7_000], // Retry-After seconds win over backoff
    [1, 0, '2.5', 2_500],
    [1, 1, 'Fri, 20 Nov 2026 10:00:30 GMT', 30_000], // HTTP-date
    [1, 1, 'Fri, 20 Nov 2026 09:00:00 GMT', 0], // date in the past: retry at once
    [1, 1, '600', 60_000], // capped by maxRetryAfterMs
    [2, 1, 'soon', 200], // unreadable header falls back to backoff
    [2, 1, '', 200],
    [2, 1, null, 200],
  ] as const)('R3 attempt %i random %d Retry-After %j -> %i ms', (attempt, r, retryAfter, expected) => {
    expect(computeRetryDelay(attempt, { retryAfter, random: () => r, now: NOW }, policy)).toBe(expected);
  });

  it('parseRetryAfter returns undefined when absent', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('nonsense')).toBeUndefined();
  });
});

describe('withRetry', () => {
  const recordingSleep = () => {
    const delays: number[] = [];
    return { delays, sleep: async (ms: number) => void delays.push(ms) };
  };

  it('R3 retries until the operation succeeds, sleeping the computed delays', async () => {
    const { delays, sleep } = recordingSleep();
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new Error('boom');
        return 'ok';
      },
      { policy, classify: () => 'retry', sleep, random: () => 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([100, 200]);
  });

  it('R27 honours Retry-After from the classification', async () => {
    const { delays, sleep } = recordingSleep();
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls === 1) throw new Error('429');
        return 1;
      },
      { policy, classify: () => ({ retryAfter: '3' }), sleep, random: () => 0 },
    );
    expect(delays).toEqual([3_000]);
  });

  it('R27 is bounded: stops after maxAttempts and throws the last error with the attempt count', async () => {
    const { delays, sleep } = recordingSleep();
    let calls = 0;
    const error = await withRetry(
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { policy, classify: () => 'retry', sleep, random: () => 1 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(delays).toHaveLength(3);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('failure 4');
    expect((error as { attempts?: number }).attempts).toBe(4);
  });

  it('does not retry what classify calls fatal', async () => {
    let calls = 0;
    const onRetry: unknown[] = [];
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('400');
        },
        { policy, classify: () => 'fail', onRetry: (e) => onRetry.push(e) },
      ),
    ).rejects.toThrow('400');
    expect(calls).toBe(1);
    expect(onRetry).toEqual([]);
  });

  it('R27 gives up at once when the server asks to wait longer than maxRetryAfterMs', async () => {
    const { delays, sleep } = recordingSleep();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('daily budget');
        },
        { policy, classify: () => ({ retryAfter: '3600' }), sleep },
      ),
    ).rejects.toThrow('daily budget');
    expect(calls).toBe(1);
    expect(delays).toEqual([]);
  });

  it('reports each retry to onRetry and passes the attempt number to the operation', async () => {
    const seen: number[] = [];
    const events: Array<{ attempt: number; delayMs: number }> = [];
    await withRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new Error('x');
      },
      {
        policy,
        classify: () => 'retry',
        sleep: async () => {},
        random: () => 0.5,
        onRetry: ({ attempt, delayMs }) => events.push({ attempt, delayMs }),
      },
    );
    expect(seen).toEqual([1, 2, 3]);
    expect(events).toEqual([
      { attempt: 1, delayMs: 50 },
      { attempt: 2, delayMs: 100 },
    ]);
  });
});
