import { v4 as uuidV4 } from 'uuid';

/**
 * Returns a random UUID. `crypto.randomUUID` exists only in secure contexts (HTTPS or
 * loopback), so a board served over plain HTTP on a LAN address falls back to `uuid`.
 */
export function newId(): string {
  const webCrypto = globalThis.crypto;
  if (webCrypto && typeof webCrypto.randomUUID === 'function') return webCrypto.randomUUID();
  return uuidV4();
}
