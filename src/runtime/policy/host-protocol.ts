/**
 * The messages between the runtime and its policy process (node IPC, 'advanced' serialization,
 * so typed arrays cross as typed arrays). One declaration for both ends; every message from the
 * child is checked by `isHostReply` before it is trusted.
 */
import type { ModelSignature } from './session.js';

/** A tensor crossing the process boundary: element type, shape and values. */
export interface WireTensor {
  readonly name: string;
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array | Float64Array;
}

export type HostRequest = { readonly kind: 'run'; readonly id: number; readonly feeds: readonly WireTensor[] };

export type HostReply =
  | { readonly kind: 'ready'; readonly signature: ModelSignature }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'result'; readonly id: number; readonly outputs: readonly WireTensor[] }
  | { readonly kind: 'error'; readonly id: number; readonly message: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

function isWireTensor(v: unknown): v is WireTensor {
  return (
    isObject(v) &&
    typeof v.name === 'string' &&
    typeof v.type === 'string' &&
    Array.isArray(v.dims) &&
    v.dims.every((d) => Number.isInteger(d) && d >= 0) &&
    ArrayBuffer.isView(v.data)
  );
}

function isSignature(v: unknown): v is ModelSignature {
  return isObject(v) && Array.isArray(v.inputNames) && Array.isArray(v.outputNames) && Array.isArray(v.inputMetadata) && Array.isArray(v.outputMetadata);
}

export function isHostReply(v: unknown): v is HostReply {
  if (!isObject(v)) return false;
  switch (v.kind) {
    case 'ready':
      return isSignature(v.signature);
    case 'failed':
      return typeof v.message === 'string';
    case 'result':
      return typeof v.id === 'number' && Array.isArray(v.outputs) && v.outputs.every(isWireTensor);
    case 'error':
      return typeof v.id === 'number' && typeof v.message === 'string';
    default:
      return false;
  }
}

export function isHostRequest(v: unknown): v is HostRequest {
  return isObject(v) && v.kind === 'run' && typeof v.id === 'number' && Array.isArray(v.feeds) && v.feeds.every(isWireTensor);
}
