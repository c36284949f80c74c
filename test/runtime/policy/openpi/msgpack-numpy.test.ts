/**
 * The codec against Python's msgpack and numpy (Debian's python3-msgpack/python3-numpy), decoding
 * with openpi's own object hook: what embody packs, numpy reads as arrays of the right dtype and
 * shape; what numpy packs, embody reads back.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isNdArray, ndarray, packMessage, unpackMessage, WireFormatError } from '../../../../src/runtime/policy/openpi/msgpack-numpy.js';

const peer = fileURLToPath(new URL('../../../support/openpi_peer.py', import.meta.url));

function python(message: Uint8Array): { decoded: Record<string, unknown>; packed: Uint8Array } {
  const result = spawnSync('/usr/bin/python3', [peer, 'codec'], { input: message });
  expect(result.stderr.toString()).toBe('');
  const [json, hex] = result.stdout.toString().trim().split('\n');
  return { decoded: JSON.parse(json) as Record<string, unknown>, packed: Uint8Array.from(Buffer.from(hex, 'hex')) };
}

describe('openpi msgpack-numpy', () => {
  it('packs arrays numpy decodes with openpi\'s binary-key object hook, and reads numpy\'s arrays', () => {
    const image = new Uint8Array([0, 10, 20, 30, 40, 50, 255, 1, 2, 3, 4, 5]);
    const { decoded, packed } = python(
      packMessage({
        'observation/image': ndarray(image, [2, 2, 3]),
        'observation/state': ndarray(Float32Array.from([0.5, -1.25, 3]), [3]),
        prompt: 'lift the cube',
        nested: { wide: ndarray(Float64Array.from([1e-9, 2]), [1, 2]) },
      }),
    );
    expect(decoded['observation/image']).toEqual({ dtype: '|u1', shape: [2, 2, 3], values: Array.from(image) });
    expect(decoded['observation/state']).toEqual({ dtype: '<f4', shape: [3], values: [0.5, -1.25, 3] });
    expect(decoded.prompt).toBe('lift the cube');
    expect(decoded.nested).toEqual({ wide: { dtype: '<f8', shape: [1, 2], values: [1e-9, 2] } });

    const reply = unpackMessage(packed) as Record<string, unknown>;
    const actions = reply.actions;
    if (!isNdArray(actions)) throw new Error('actions is not an array');
    expect(actions.dtype).toBe('<f4');
    expect(actions.shape).toEqual([3, 4]);
    expect(Array.from(actions.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i / 4));
    expect(reply.wide).toMatchObject({ dtype: '<f8', shape: [2] });
    expect(Array.from((reply.pixels as { data: Uint8Array }).data)).toEqual([0, 255]);
    expect(Array.from((reply.steps as { data: BigInt64Array }).data)).toEqual([7n, -9n]);
    expect(reply.scalar).toBe(0.5);
    expect(reply.count).toBe(3);
    expect(reply.server_timing).toEqual({ infer_ms: 12.5 });
    expect(reply.text).toBe('ok');
  }, 30_000); // Python with numpy starts slowly on a loaded machine

  it('refuses an array whose bytes do not fill its shape, naming the sizes', () => {
    const lying = packMessage({ a: ndarray(Float32Array.from([1, 2]), [2]) });
    expect(unpackMessage(lying)).toMatchObject({ a: { shape: [2] } });
    // The shape is the map's last entry: fixarray(1) of fixint 2. Make it claim 3 values.
    expect(Array.from(lying.subarray(-2))).toEqual([0x91, 0x02]);
    lying[lying.length - 1] = 0x03;
    expect(() => unpackMessage(lying)).toThrow(WireFormatError);
    expect(() => unpackMessage(lying)).toThrow(/shape \[3\] and dtype <f4 needs 12 bytes, it has 8/);
  });
});
