/**
 * openpi's wire format: msgpack, with numpy arrays as maps whose keys are msgpack *binary*
 * strings. Facts from openpi `packages/openpi-client/src/openpi_client/msgpack_numpy.py`:
 *   ndarray → {b"__ndarray__": True, b"data": arr.tobytes(), b"dtype": arr.dtype.str, b"shape": arr.shape}
 *   numpy scalar → {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
 * dtype strings are numpy's (`<f4`, `<f8`, `|u1`, `<i8`, ...); data is C-order, in the dtype's
 * byte order. Every other map (the observation, the reply) has ordinary string keys.
 *
 * msgpackr writes a `Map` with Uint8Array keys as binary keys, and reads every map as a `Map`
 * when `mapsAsObjects` is off, so binary keys arrive as bytes, never mistaken for strings.
 */
import { Packr, Unpackr } from 'msgpackr';

/** The numpy element types embody sends or accepts. */
export type NdArrayData = Float32Array | Float64Array | Uint8Array | Int32Array | BigInt64Array;

/** An n-dimensional array as numpy sees it: C-order data, its shape and its dtype string. */
export interface NdArray {
  readonly kind: 'ndarray';
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: NdArrayData;
}

/** What an openpi message can hold, decoded. */
export type WireValue = null | boolean | number | bigint | string | Uint8Array | NdArray | readonly WireValue[] | { readonly [key: string]: WireValue };

/** A malformed message: names what was wrong, for the event the caller raises. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

const key = (text: string): Uint8Array => new TextEncoder().encode(text);
const NDARRAY = key('__ndarray__');
const NPGENERIC = key('__npgeneric__');
const DATA = key('data');
const DTYPE = key('dtype');
const SHAPE = key('shape');

/** numpy dtype string (little-endian or no byte order) → element size and typed array. */
const dtypes: Record<string, { readonly bytes: number; make(buffer: ArrayBuffer, offset: number, length: number): NdArrayData }> = {
  '<f4': { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  '|u1': { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '<i4': { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<i8': { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
};

const dtypeOf = (data: NdArrayData): string =>
  data instanceof Float32Array ? '<f4' : data instanceof Float64Array ? '<f8' : data instanceof Uint8Array ? '|u1' : data instanceof Int32Array ? '<i4' : '<i8';

export function ndarray(data: NdArrayData, shape: readonly number[]): NdArray {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${size} values, data has ${data.length}`);
  return { kind: 'ndarray', dtype: dtypeOf(data), shape, data };
}

export function isNdArray(value: unknown): value is NdArray {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'ndarray' && ArrayBuffer.isView((value as NdArray).data);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed arrays are host-endian; numpy's '<' dtypes are little-endian.
  throw new Error('embody speaks openpi msgpack on little-endian hosts only');
}

const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });

function toWire(value: WireValue): unknown {
  if (isNdArray(value)) {
    const d = value.data;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    return new Map<Uint8Array, unknown>([
      [NDARRAY, true],
      [DATA, bytes],
      [DTYPE, value.dtype],
      [SHAPE, [...value.shape]],
    ]);
  }
  if (Array.isArray(value)) return value.map((v: WireValue) => toWire(v));
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, WireValue>)) out[k] = toWire(v);
  return out;
}

/** msgpack bytes of a message, numpy arrays in openpi's binary-keyed form. */
export function packMessage(value: WireValue): Uint8Array {
  return packr.pack(toWire(value));
}

const sameBytes = (a: unknown, b: Uint8Array): boolean => a instanceof Uint8Array && a.length === b.length && a.every((v, i) => v === b[i]);

function binaryEntry(map: Map<unknown, unknown>, name: Uint8Array): unknown {
  for (const [k, v] of map) if (sameBytes(k, name)) return v;
  return undefined;
}

function decodeNdArray(map: Map<unknown, unknown>): NdArray {
  const dtype = binaryEntry(map, DTYPE);
  const data = binaryEntry(map, DATA);
  const shape = binaryEntry(map, SHAPE);
  if (typeof dtype !== 'string') throw new WireFormatError('an __ndarray__ has no dtype string');
  const type = dtypes[dtype];
  if (type === undefined) throw new WireFormatError(`an __ndarray__ has dtype ${dtype}; embody reads ${Object.keys(dtypes).join(', ')}`);
  if (!(data instanceof Uint8Array)) throw new WireFormatError('an __ndarray__ has no binary data');
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) throw new WireFormatError('an __ndarray__ has no shape of non-negative integers');
  const dims = shape as number[];
  const length = dims.reduce((a, b) => a * b, 1);
  if (length * type.bytes !== data.byteLength) {
    throw new WireFormatError(`an __ndarray__ of shape [${dims.join(', ')}] and dtype ${dtype} needs ${length * type.bytes} bytes, it has ${data.byteLength}`);
  }
  // Copy into an aligned buffer of its own: the message buffer may be reused, and a view needs alignment.
  const own = new ArrayBuffer(data.byteLength);
  new Uint8Array(own).set(data);
  return { kind: 'ndarray', dtype, shape: dims, data: type.make(own, 0, length) };
}

function fromWire(value: unknown): WireValue {
  if (value instanceof Map) {
    if (binaryEntry(value, NDARRAY) === true) return decodeNdArray(value);
    if (binaryEntry(value, NPGENERIC) === true) return fromWire(binaryEntry(value, DATA));
    const out: Record<string, WireValue> = {};
    for (const [k, v] of value) {
      const name = typeof k === 'string' ? k : k instanceof Uint8Array ? new TextDecoder().decode(k) : String(k);
      out[name] = fromWire(v);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map(fromWire);
  if (value instanceof Uint8Array || value === null || ['boolean', 'number', 'bigint', 'string'].includes(typeof value)) return value as WireValue;
  if (value === undefined) return null;
  throw new WireFormatError(`unexpected value of type ${typeof value} in a message`);
}

/** A message from msgpack bytes: openpi's array maps become NdArrays, numpy scalars plain numbers. */
export function unpackMessage(bytes: Uint8Array): WireValue {
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (error) {
    throw new WireFormatError(`not msgpack (${error instanceof Error ? error.message : String(error)})`);
  }
  return fromWire(raw);
}
