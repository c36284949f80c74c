/**
 * The Feetech packet layer as a specification: checksums of packets from Feetech's manual, the
 * sign-magnitude fields the STS3215 uses, and a status parser that survives noise and corruption.
 */
import { describe, expect, it } from 'vitest';
import {
  Instruction,
  ParserCount,
  StatusError,
  StatusParser,
  checksum,
  decodeSignMagnitude,
  encodeSignMagnitude,
  frame,
  statusErrorNames,
} from '../../../src/hal/feetech/index.js';

function statusPacket(id: number, error: number, params: number[]): number[] {
  const body = [id, params.length + 2, error, ...params];
  return [0xff, 0xff, ...body, ~body.reduce((a, b) => a + b, 0) & 0xff];
}

describe('Feetech packets', () => {
  it('frames a PING to id 1 as FF FF 01 02 01 FB (Feetech manual example)', () => {
    const out = new Uint8Array(16);
    const n = frame(out, 1, Instruction.PING, 0);
    expect([...out.subarray(0, n)]).toEqual([0xff, 0xff, 0x01, 0x02, 0x01, 0xfb]);
  });

  it('frames a READ of 2 bytes at 56 from id 1 with checksum ~(1+4+2+56+2)', () => {
    const out = new Uint8Array(16);
    out[5] = 56;
    out[6] = 2;
    const n = frame(out, 1, Instruction.READ, 2);
    expect([...out.subarray(0, n)]).toEqual([0xff, 0xff, 1, 4, 2, 56, 2, ~(1 + 4 + 2 + 56 + 2) & 0xff]);
    expect(checksum(out, 2, n - 1)).toBe(out[n - 1]);
  });

  it('sign-magnitude: bit 15 for positions, bit 11 for Homing_Offset, bit 10 for Present_Load', () => {
    expect(decodeSignMagnitude(0x8000 | 100, 15)).toBe(-100);
    expect(decodeSignMagnitude(100, 15)).toBe(100);
    expect(encodeSignMagnitude(-1000, 11)).toBe((1 << 11) | 1000);
    expect(decodeSignMagnitude(encodeSignMagnitude(-1000, 11), 11)).toBe(-1000);
    expect(decodeSignMagnitude((1 << 10) | 512, 10)).toBe(-512);
    // A magnitude past the field is clamped, never wrapped into the sign bit.
    expect(encodeSignMagnitude(5000, 11)).toBe(2047);
  });

  it('names every status error bit', () => {
    expect(statusErrorNames(StatusError.OVERLOAD | StatusError.OVERHEAT)).toBe('overheat, overload');
    expect(statusErrorNames(StatusError.VOLTAGE)).toBe('input voltage out of range');
    expect(statusErrorNames(0)).toBe('none');
  });
});

describe('StatusParser', () => {
  it('parses a packet split across reads', () => {
    const parser = new StatusParser();
    const bytes = Uint8Array.from(statusPacket(3, 0, [0x00, 0x08, 0, 0]));
    parser.push(bytes, 0, 5);
    expect(parser.next()).toBe(false);
    parser.push(bytes, 5);
    expect(parser.next()).toBe(true);
    expect(parser.id).toBe(3);
    expect(parser.length).toBe(4);
    expect(parser.params[1]).toBe(0x08);
  });

  it('skips garbage, a corrupt packet and a false header, and still finds the good packets', () => {
    const parser = new StatusParser();
    const good1 = statusPacket(1, 0, [1, 2]);
    const bad = statusPacket(2, 0, [3, 4]);
    bad[bad.length - 1] ^= 0xff;
    const good2 = statusPacket(4, StatusError.OVERLOAD, [5, 6]);
    parser.push(Uint8Array.from([0x12, 0xff, 0x00, 0xff, ...good1, 0x55, ...bad, 0xff, 0xff, 0xff, ...good2]));
    const got: [number, number][] = [];
    while (parser.next()) got.push([parser.id, parser.error]);
    expect(got).toEqual([
      [1, 0],
      [4, StatusError.OVERLOAD],
    ]);
    expect(parser.counts[ParserCount.CHECKSUM_ERRORS]).toBe(1);
    expect(parser.counts[ParserCount.GARBAGE_BYTES]).toBeGreaterThan(4);
    expect(parser.pending).toBe(0);
  });

  it('keeps working after more bytes than its buffer without a packet', () => {
    const parser = new StatusParser(64);
    parser.push(new Uint8Array(200).fill(0x11));
    parser.push(Uint8Array.from(statusPacket(6, 0, [9])));
    expect(parser.next()).toBe(true);
    expect(parser.id).toBe(6);
  });
});
