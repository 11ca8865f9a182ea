// Retry delays: exponential back-off with "full jitter" (a random delay between zero and
// the exponential cap), so that many clients retrying after one outage spread out.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

/** Returns the delay before retry number `attempt` (0 for the first retry), in milliseconds. */
export function backoffDelay(attempt: number, random: () => number, policy = DEFAULT_BACKOFF): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * Parses a `Retry-After` header (seconds or an HTTP date) into milliseconds from `now`.
 * Returns undefined when the header is absent or invalid.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
