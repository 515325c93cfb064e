import { describe, expect, it } from 'vitest';
import { seededRng } from './rng.ts';

describe('the seeded generator', () => {
  it('replays the same sequence for the same seed, and another for another seed', () => {
    const draw = (seed: number) => {
      const rng = seededRng(seed);
      return Array.from({ length: 5 }, () => rng.int(1, 1_000));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('keeps int() within its bounds and pick() within the list', () => {
    const rng = seededRng(1);
    for (let i = 0; i < 1_000; i++) {
      const n = rng.int(3, 5);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(5);
      expect(['a', 'b']).toContain(rng.pick(['a', 'b']));
    }
    expect(() => rng.pick([])).toThrow('empty');
  });
});
