// The store's public surface: the port, its types, the factory and the token-cache plugin.
export { StoreCachePlugin, TOKEN_CACHE_SECRET } from './cache-plugin.ts';
export { DEFAULT_STORE_FILE, type OpenStoreOptions, openStore } from './open.ts';
export * from './store.ts';
