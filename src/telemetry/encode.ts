/**
 * Compact JSON for the stream topics: no whitespace, arrays instead of one object per joint,
 * numbers rounded to what the sensors resolve (6 decimals for joints: 1 µrad or 1 µm; 4 for
 * the touch estimate, a 0..1 quantity). A 7-joint state message is ~280 bytes instead of ~900
 * with a name and all 17 digits per value (bench/telemetry.ts measures both).
 */
import type { JointObjectsState, StatePayload, StreamInputs, TactilePayload } from './schemas.js';
import type { StreamTopic } from './topics.js';

/** `x` rounded to `scale` (10^decimals) as JSON: null for a non-finite value, no `-0`. */
function number(x: number | null, scale: number): string {
  if (x === null || !Number.isFinite(x)) return 'null';
  const r = Math.round(x * scale) / scale;
  return r === 0 ? '0' : String(r);
}

function array(values: readonly (number | null)[], scale: number): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + number(values[i], scale);
  return out + ']';
}

export function encodeState(sample: StatePayload | JointObjectsState): string {
  const p: StatePayload =
    'joints' in sample
      ? {
          ts: sample.ts,
          tick: sample.tick,
          mode: sample.mode,
          position: sample.joints.map((j) => j.position),
          velocity: sample.joints.map((j) => j.velocity),
          command: sample.joints.map((j) => j.command),
        }
      : sample;
  return (
    `{"ts":${Math.round(p.ts)},"tick":${Math.round(p.tick)},"mode":${JSON.stringify(p.mode)}` +
    `,"position":${array(p.position, 1e6)},"velocity":${array(p.velocity, 1e6)},"command":${array(p.command, 1e6)}}`
  );
}

export function encodeTactile(p: TactilePayload): string {
  return (
    `{"ts":${Math.round(p.ts)}${p.frame === undefined ? '' : `,"frame":${Math.round(p.frame)}`}` +
    `,"contact":${array(p.contact, 1e4)},"force":${array(p.force, 1e4)},"area":${array(p.area, 1e4)}}`
  );
}

/** The wire form of a stream sample. */
export function encodeStream<K extends StreamTopic>(topic: K, payload: StreamInputs[K]): string {
  if (topic === 'state') return encodeState(payload as StreamInputs['state']);
  if (topic === 'tactile') return encodeTactile(payload as TactilePayload);
  return JSON.stringify(payload);
}
