/**
 * Quality and event flags of a touch estimate, one bit set per pad and frame. A consumer that
 * sees NOT_READY, STALE, LIGHTING, SATURATED or CAMERA_STALL should not trust contact/force
 * (the estimator holds its last good outputs while LIGHTING or heavy SATURATED is set).
 */
export const TouchFlag = {
  /** The no-contact reference is still being collected. */
  NOT_READY: 1 << 0,
  /** No frame for longer than staleAfterMs (set by checkStale). */
  STALE: 1 << 1,
  /** This frame's sequence skipped one or more frames. */
  DROPPED: 1 << 2,
  /** Clipped pixels in the ROI above saturationFraction. */
  SATURATED: 1 << 3,
  /** Global brightness left the gain clip: lighting or exposure changed too much to compensate. */
  LIGHTING: 1 << 4,
  /** The adapted reference drifted from the factory reference beyond driftWarn (pad wear, dirt). */
  DRIFT: 1 << 5,
  /** The contact patch moves non-rigidly against the reference: the object is slipping. */
  SLIP: 1 << 6,
  /** The camera process stalled or died (set by the caller from the camera supervisor). */
  CAMERA_STALL: 1 << 7,
} as const;

export type TouchFlagName = 'not_ready' | 'stale' | 'dropped' | 'saturated' | 'lighting' | 'drift' | 'slip' | 'camera_stall';

const names: readonly TouchFlagName[] = ['not_ready', 'stale', 'dropped', 'saturated', 'lighting', 'drift', 'slip', 'camera_stall'];

/** Flag names set in `bits`, in bit order (allocates: for logs and replay output, not per frame). */
export function describeTouchFlags(bits: number): TouchFlagName[] {
  const out: TouchFlagName[] = [];
  for (let i = 0; i < names.length; i++) if (bits & (1 << i)) out.push(names[i]);
  return out;
}

/** Flags after which contact and force should not be trusted. */
export const UNTRUSTED_FLAGS = TouchFlag.NOT_READY | TouchFlag.STALE | TouchFlag.LIGHTING | TouchFlag.SATURATED | TouchFlag.CAMERA_STALL;
