/**
 * The estimator's per-pad outputs, declared once: `touchReadoutFields` names each field, its
 * array type and its value before the first estimate; the `TouchReadout` type and the
 * `TouchReadoutArrays` base class (which allocates the arrays) are derived from it.
 */
import { TouchFlag } from '../flags.js';

type ArrayKind = 'f64' | 'u8' | 'u16';

interface FieldSpec {
  readonly kind: ArrayKind;
  /** Every pad's value until the first estimate writes it. */
  readonly initial: number;
}

/** Every array has one slot per pad, in the order the pads were given. */
export const touchReadoutFields = {
  /** Contact probability 0..1 (what the first version called contact; > 0.5 means touching). */
  contact: { kind: 'f64', initial: 0 },
  /** Contact state with hysteresis: 1 in contact. */
  inContact: { kind: 'u8', initial: 0 },
  /** Force: calibrated (unit of the calibration) when the pad has one, else the proxy. */
  force: { kind: 'f64', initial: 0 },
  /** Uncalibrated force proxy, ~1 at a full grip in the simulator. */
  proxy: { kind: 'f64', initial: 0 },
  /** Fraction of the pad in contact, 0..1. */
  area: { kind: 'f64', initial: 0 },
  /** Largest change in the filtered difference map, grey levels. */
  peak: { kind: 'f64', initial: 0 },
  /** Contact centroid, image pixels (NaN without contact). */
  centroidX: { kind: 'f64', initial: Number.NaN },
  centroidY: { kind: 'f64', initial: Number.NaN },
  /** Contact ellipse: semi-axes (image pixels; a uniform disc of radius r gives r, r) and major-axis angle (rad). */
  major: { kind: 'f64', initial: 0 },
  minor: { kind: 'f64', initial: 0 },
  angle: { kind: 'f64', initial: 0 },
  /** Shear: contact-weighted displacement against the reference net of camera motion, image pixels. */
  shearX: { kind: 'f64', initial: 0 },
  shearY: { kind: 'f64', initial: 0 },
  /** Whole-image (camera) motion seen in the pad, image pixels. */
  motionX: { kind: 'f64', initial: 0 },
  motionY: { kind: 'f64', initial: 0 },
  /** 1 while slipping (also TouchFlag.SLIP). */
  slip: { kind: 'u8', initial: 0 },
  /** RMS non-rigid (tangential) motion of the contact patches, working cells: slip when above slipResidual. */
  slipResidual: { kind: 'f64', initial: 0 },
  /** Global gain of this frame against the reference (before the clip). */
  gain: { kind: 'f64', initial: 1 },
  /** Noise of the filtered difference map, grey levels. */
  noise: { kind: 'f64', initial: 0 },
  /** Mean |reference - factory reference|, grey levels. */
  drift: { kind: 'f64', initial: 0 },
  /** TouchFlag bits. */
  flags: { kind: 'u16', initial: TouchFlag.NOT_READY },
} as const satisfies Record<string, FieldSpec>;

export type TouchReadoutField = keyof typeof touchReadoutFields;

type ArrayOf<K extends ArrayKind> = K extends 'f64' ? Float64Array : K extends 'u8' ? Uint8Array : Uint16Array;

/** The per-pad outputs (see `touchReadoutFields` for each field's meaning). */
export type TouchReadout = { readonly [F in TouchReadoutField]: ArrayOf<(typeof touchReadoutFields)[F]['kind']> };

/** The field names, in declaration order. */
export const touchReadoutFieldNames = Object.keys(touchReadoutFields) as readonly TouchReadoutField[];

function allocate(kind: ArrayKind, pads: number): Float64Array | Uint8Array | Uint16Array {
  return kind === 'f64' ? new Float64Array(pads) : kind === 'u8' ? new Uint8Array(pads) : new Uint16Array(pads);
}

/**
 * A base class whose instances own one array per readout field, each filled with its initial
 * value. A class (not a plain object) so that V8 keeps the 21 fields as fast properties.
 */
export const TouchReadoutArrays = class {
  constructor(pads: number) {
    const self = this as unknown as Record<TouchReadoutField, Float64Array | Uint8Array | Uint16Array>;
    for (const field of touchReadoutFieldNames) {
      const { kind, initial } = touchReadoutFields[field];
      self[field] = allocate(kind, pads).fill(initial);
    }
  }
} as unknown as new (pads: number) => TouchReadout;
