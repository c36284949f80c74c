/**
 * The I2C bus contract the device drivers speak. Every method is synchronous: the control worker
 * calls the drivers once per tick and never returns to its event loop, so a transaction must be a
 * blocking call (an ioctl on /dev/i2c-N for the real bus) on buffers the caller preallocated.
 * Nothing here allocates on success; a failure throws an `I2cError` (a HardwareError) that names
 * the bus, the address, the register and a fix.
 *
 * The transactions are the SMBus/I2C ones the Linux i2c-dev interface offers:
 *   readByte / writeByte    S addr+W reg [data] P           (SMBus read/write byte data)
 *   readWord / writeWord    two data bytes, LOW byte first   (SMBus word: little-endian on the wire)
 *   readBlock / writeBlock  `length` bytes (1..32) after reg (I2C block, not the SMBus length-prefixed block)
 *   sendByte / receiveByte  one byte with no register        (a TCA9548A's control register)
 * Byte order is the driver's job: SMBus words are little-endian, while the ADS1115 and the INA219
 * send their 16-bit registers MSB first, so their drivers swap (`swap16`) or read blocks.
 */

export const I2cOp = {
  READ_BYTE: 0,
  WRITE_BYTE: 1,
  READ_WORD: 2,
  WRITE_WORD: 3,
  READ_BLOCK: 4,
  WRITE_BLOCK: 5,
  SEND_BYTE: 6,
  RECEIVE_BYTE: 7,
} as const;
export type I2cOpCode = (typeof I2cOp)[keyof typeof I2cOp];

export const i2cOpNames = ['readByte', 'writeByte', 'readWord', 'writeWord', 'readBlock', 'writeBlock', 'sendByte', 'receiveByte'] as const;
export type I2cOpName = (typeof i2cOpNames)[number];

/** Slots of `I2cBus.stats` (a Float64Array, so counting never allocates). */
export const I2cStat = {
  /** Transactions attempted, retries included. */
  TRANSACTIONS: 0,
  /** Bytes on the wire for those transactions, address bytes included (see wireBytes). */
  BYTES: 1,
  /** Attempts that failed (each retry that failed counts). */
  FAILURES: 2,
  /** Attempts repeated after a failure. */
  RETRIES: 3,
  /** Calls that failed for good (after every retry): each became an I2cError. */
  ERRORS: 4,
  SIZE: 5,
} as const;

/** Most bytes one block transaction carries (the i2c-dev I2C_SMBUS_BLOCK_MAX). */
export const I2C_BLOCK_MAX = 32;

export interface I2cBus {
  /** Adapter number: /dev/i2c-<busNumber>. */
  readonly busNumber: number;
  /** 'i2c-1' (or 'emulated i2c-1'): the name every error of this bus carries. */
  readonly name: string;
  /** Counters, indexed by I2cStat. */
  readonly stats: Float64Array;
  /** Address of the most recent failed attempt (-1: none yet): which chip a storm of retries is on. */
  readonly lastFailedAddress: number;

  readByte(address: number, register: number): number;
  writeByte(address: number, register: number, value: number): void;
  /** SMBus read word: the first byte on the wire is the LOW byte of the result. */
  readWord(address: number, register: number): number;
  /** SMBus write word: `value & 0xff` goes on the wire first. */
  writeWord(address: number, register: number, value: number): void;
  /** Read `length` (1..32) bytes starting at `register` into `into[0..length)`. */
  readBlock(address: number, register: number, length: number, into: Buffer): void;
  /** Write `from[0..length)` (1..32 bytes) starting at `register`. */
  writeBlock(address: number, register: number, length: number, from: Buffer): void;
  /** One byte, no register (a mux's control register). */
  sendByte(address: number, value: number): void;
  receiveByte(address: number): number;
  close(): void;
}

/**
 * Bytes on the wire for one transaction, address bytes included: a register read is
 * S addr+W reg Sr addr+R data… P, a register write is S addr+W reg data… P. Each byte is 9 clocks
 * (8 bits and the ACK); START, repeated START and STOP are ignored (about one clock each).
 */
export function wireBytes(op: number, length: number): number {
  switch (op) {
    case I2cOp.READ_BYTE:
      return 4;
    case I2cOp.WRITE_BYTE:
      return 3;
    case I2cOp.READ_WORD:
      return 5;
    case I2cOp.WRITE_WORD:
      return 4;
    case I2cOp.READ_BLOCK:
      return 3 + length;
    case I2cOp.WRITE_BLOCK:
      return 2 + length;
    default:
      return 2;
  }
}

/** Seconds a bus at `clockHz` needs for `bytes` wire bytes (9 clocks each). */
export function busSeconds(bytes: number, clockHz = 400_000): number {
  return (bytes * 9) / clockHz;
}

/** Swap the bytes of a 16-bit word: SMBus words are little-endian, most sensor registers are not. */
export function swap16(word: number): number {
  return ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}

/** A 16-bit register value as a signed number (two's complement). */
export function toInt16(word: number): number {
  return (word << 16) >> 16;
}

/** `0x40`, the way datasheets and i2cdetect write addresses and registers. */
export function hex(value: number, digits = 2): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}
