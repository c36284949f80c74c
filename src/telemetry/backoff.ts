/**
 * Reconnect back-off with jitter. Attempt n waits a uniform random time in [c/2, c] with
 * c = min(max, min·2ⁿ) ("equal jitter"): the wait grows while the broker stays away, never
 * beyond max, and a fleet that lost the same broker does not come back in step.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(Math.max(minMs, maxMs), minMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.max(1, Math.round(cap / 2 + (random() * cap) / 2));
}
