import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalescer.ts';

describe('Coalescer', () => {
  it('gathers calls made together into one batch; each caller gets its own result or its own error', async () => {
    const batches: number[][] = [];
    const coalescer = new Coalescer<number, string>({
      maxItems: 10,
      lingerMs: 0,
      run: async (items) => {
        batches.push(items);
        return items.map((n) => (n === 3 ? new Error('three refused') : `ok ${n}`));
      },
    });
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((n) => coalescer.add(n)));
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'ok 1',
      'ok 2',
      'three refused',
      'ok 4',
    ]);
  });

  it('runs a full batch at once, keeps two writes of one record apart, and fails every caller when the call fails', async () => {
    const batches: string[][] = [];
    const coalescer = new Coalescer<string, string>({
      maxItems: 2,
      lingerMs: 60_000,
      fits: (item, batch) => !batch.includes(item),
      run: async (items) => {
        batches.push(items);
        if (items.includes('down')) throw new Error('HTTP 503');
        return items;
      },
    });
    // Full at two: no 60 s linger. 'a' twice: the second waits for the next batch.
    const first = await Promise.all([coalescer.add('a'), coalescer.add('b')]);
    expect(first).toEqual(['a', 'b']);
    const [firstC, secondC] = [coalescer.add('c'), coalescer.add('c')];
    coalescer.flush();
    expect(await firstC).toBe('c');
    // The second write of 'c' waits for a batch of its own.
    coalescer.flush();
    expect(await secondC).toBe('c');
    expect(batches).toEqual([['a', 'b'], ['c'], ['c']]);
    const failing = await Promise.allSettled([coalescer.add('x'), coalescer.add('down')]);
    expect(failing.map((o) => o.status === 'rejected' && (o.reason as Error).message)).toEqual([
      'HTTP 503',
      'HTTP 503',
    ]);
  });

  it('runs batches one after another: the next starts when the one before it has answered', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const coalescer = new Coalescer<string, string>({
      maxItems: 1,
      lingerMs: 0,
      run: async (items) => {
        events.push(`start ${items[0]}`);
        if (items[0] === 'first') await new Promise<void>((resolve) => (release = resolve));
        events.push(`end ${items[0]}`);
        return items;
      },
    });
    const first = coalescer.add('first');
    const second = coalescer.add('second');
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['start first']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['start first', 'end first', 'start second', 'end second']);
  });
});
