import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { holderGoneOnThisHost, leaseHolder, releaseLease, takeLease } from './schedule-lease.ts';

const never = () => false;

describe('the lease on the recurring work', () => {
  it('R26 one holder at a time: another worker takes it only once it ran out', () => {
    const a = takeLease(null, 'a', 1_000, 500, never);
    expect(leaseHolder(a)).toBe('a');
    expect(takeLease(a, 'b', 1_200, 500, never)).toBeNull();
    // The holder renews it.
    const renewed = takeLease(a, 'a', 1_400, 500, never);
    expect(takeLease(renewed, 'b', 1_600, 500, never)).toBeNull();
    expect(leaseHolder(takeLease(renewed, 'b', 1_901, 500, never))).toBe('b');
    expect(leaseHolder(takeLease('not json', 'b', 0, 500, never))).toBe('b');
    // A holder that stops hands it over at once; another's release changes nothing.
    expect(releaseLease(renewed, 'b')).toBeNull();
    expect(leaseHolder(takeLease(releaseLease(renewed, 'a'), 'b', 1_500, 500, never))).toBe('b');
  });

  it('R26 a holder of this machine whose process is gone is replaced at once (a restart after a crash)', () => {
    const gone = `${hostname()}:2147483646:x`;
    expect(holderGoneOnThisHost(gone)).toBe(true);
    expect(holderGoneOnThisHost(`${hostname()}:${process.pid}:x`)).toBe(false);
    expect(holderGoneOnThisHost('other-host:2147483646:x')).toBe(false);
    const held = takeLease(null, gone, 1_000, 60_000, never);
    expect(leaseHolder(takeLease(held, 'b', 1_001, 60_000, holderGoneOnThisHost))).toBe('b');
  });
});
