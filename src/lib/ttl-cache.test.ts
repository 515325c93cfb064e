import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.ts';

describe('TtlCache', () => {
  it('R29 keeps an answer (null too) for its time, ignoring case, and loads again after it', async () => {
    let now = 0;
    let loads = 0;
    const cache = new TtlCache<string | null>(1_000, () => now);
    const load = async () => {
      loads += 1;
      return null;
    };
    expect(await cache.get('Sam@Contoso.example', load)).toBeNull();
    expect(await cache.get('sam@contoso.example', load)).toBeNull();
    expect(loads).toBe(1);
    now = 1_000;
    await cache.get('sam@contoso.example', load);
    expect(loads).toBe(2);
  });

  it('R29 forgets a failed load, so the next call tries again', async () => {
    const cache = new TtlCache<string>(1_000);
    await expect(cache.get('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('a', async () => 'id-1')).toBe('id-1');
  });
});
