/**
 * The Feetech SCS/STS serial bus protocol (protocol 0, the STS3215 of the SO-100/SO-101 arms):
 * packet layout, instructions, status error bits, the STS3215 control table and its encodings.
 *
 * Facts from lerobot `src/lerobot/motors/feetech/tables.py` and `encoding_utils.py` (commit
 * 7427f31) and Feetech's SDK (`scservo_sdk/protocol_packet_handler.py`, FTServo_Python):
 * - instruction packet `FF FF ID LEN INSTR P1..Pn CHK`, LEN = n + 2;
 *   status packet   `FF FF ID LEN ERR  P1..Pn CHK`, LEN = n + 2;
 *   CHK = ~(ID + LEN + INSTR|ERR + ΣP) & 0xFF;
 * - SYNC_READ: ID 0xFE, params `ADDR DATA_LEN ID1..IDk` (LEN = k + 4); each servo answers with
 *   its own status packet, in the order of the ids;
 * - SYNC_WRITE: ID 0xFE, params `ADDR DATA_LEN (ID D1..D_DATA_LEN)×k`; nobody answers;
 * - status error bits: 1 voltage, 2 angle sensor, 4 overheat, 8 overcurrent (SDK ERRBIT_OVERELE),
 *   32 overload;
 * - registers are little-endian; sign-magnitude with the sign at bit 15 for positions and
 *   velocities, bit 11 for Homing_Offset, bit 10 for Present_Load;
 * - 4096 steps per turn, model number 777, 1 Mbps default (Baud_Rate register value 0).
 */

export const HEADER = 0xff;
export const BROADCAST_ID = 0xfe;
/** Highest id a servo can have (0xFE is broadcast, 0xFF is not an id). */
export const MAX_SERVO_ID = 0xfc;

export const Instruction = { PING: 0x01, READ: 0x02, WRITE: 0x03, REG_WRITE: 0x04, ACTION: 0x05, SYNC_READ: 0x82, SYNC_WRITE: 0x83 } as const;

/** Status packet error bits (Feetech SDK ERRBIT_*). */
export const StatusError = { VOLTAGE: 1, ANGLE: 2, OVERHEAT: 4, OVERCURRENT: 8, OVERLOAD: 32 } as const;

/** Each error bit's name and what to do about it, for the fault text. */
export const STATUS_ERROR_TEXT: readonly (readonly [bit: number, name: string, fix: string])[] = [
  [StatusError.VOLTAGE, 'input voltage out of range', 'the supply at the servo is outside its Min/Max_Voltage_Limit (registers 15/14, 0.1 V units): use the supply the servos are made for (the SO-101 kit: 5 V for the 7.4 V STS3215, 12 V for the 12 V one), check it holds its voltage under load, and check the bus board\'s power wiring'],
  [StatusError.ANGLE, 'angle sensor error', 'the magnetic encoder reads nothing sensible: the servo is damaged or its magnet is loose; replace the servo'],
  [StatusError.OVERHEAT, 'overheat', 'let the servo cool; lower the load or the duty (a joint held against gravity or a limit heats up)'],
  [StatusError.OVERCURRENT, 'overcurrent', 'a stalled or blocked joint: look for a collision, a cable caught in the joint, or a limit set past the hard stop'],
  [StatusError.OVERLOAD, 'overload', 'the servo held more torque than its Overload_Torque for Protection_Time: unload the joint, check the calibration range'],
];

/** The STS3215 control table: [address, size in bytes] (lerobot STS_SMS_SERIES_CONTROL_TABLE). */
export const Sts = {
  MODEL_NUMBER: [3, 2],
  ID: [5, 1],
  BAUD_RATE: [6, 1],
  RETURN_DELAY_TIME: [7, 1],
  MIN_POSITION_LIMIT: [9, 2],
  MAX_POSITION_LIMIT: [11, 2],
  MAX_TORQUE_LIMIT: [16, 2],
  PHASE: [18, 1],
  HOMING_OFFSET: [31, 2],
  OPERATING_MODE: [33, 1],
  TORQUE_ENABLE: [40, 1],
  ACCELERATION: [41, 1],
  GOAL_POSITION: [42, 2],
  GOAL_TIME: [44, 2],
  GOAL_VELOCITY: [46, 2],
  TORQUE_LIMIT: [48, 2],
  LOCK: [55, 1],
  PRESENT_POSITION: [56, 2],
  PRESENT_VELOCITY: [58, 2],
  PRESENT_LOAD: [60, 2],
  PRESENT_VOLTAGE: [62, 1],
  PRESENT_TEMPERATURE: [63, 1],
  STATUS: [65, 1],
  MOVING: [66, 1],
  PRESENT_CURRENT: [69, 2],
} as const satisfies Record<string, readonly [number, number]>;

/** Sign bit of each sign-magnitude register (lerobot STS_SMS_SERIES_ENCODINGS_TABLE). */
export const SignBit = { POSITION: 15, VELOCITY: 15, HOMING_OFFSET: 11, LOAD: 10 } as const;

export const STS3215_MODEL_NUMBER = 777;
export const STS3215_STEPS_PER_TURN = 4096;
/**
 * Phase bit 4: the angle feedback mode. Set, Present_Position may leave 0..4095; LeRobot's
 * configure_motors clears it on every STS3215, and so does open().
 */
export const PHASE_ANGLE_FEEDBACK = 0x10;
/** Operating_Mode values: 0 position, 1 constant velocity (wheel), 2 PWM, 3 step. */
export const OperatingMode = { POSITION: 0, VELOCITY: 1, PWM: 2, STEP: 3 } as const;

/** The register block the driver reads every tick: Present_Position .. Present_Temperature (56..63). */
export const FEEDBACK_ADDRESS = Sts.PRESENT_POSITION[0];
export const FEEDBACK_LENGTH = Sts.PRESENT_TEMPERATURE[0] + 1 - FEEDBACK_ADDRESS;

/** Bytes of a packet with `params` parameter bytes (header 2, id, len, instr/err, checksum). */
export function packetSize(params: number): number {
  return params + 6;
}

/** The checksum over `bytes[from .. to)` (id, length, instruction/error and parameters). */
export function checksum(bytes: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += bytes[i];
  return ~sum & 0xff;
}

/**
 * Write an instruction packet into `out` at `at` whose parameters are already at
 * out[at+5 .. at+5+params); returns the packet's size. The caller fills parameters in place, so
 * nothing is allocated.
 */
export function frame(out: Uint8Array, id: number, instruction: number, params: number, at = 0): number {
  out[at] = HEADER;
  out[at + 1] = HEADER;
  out[at + 2] = id;
  out[at + 3] = params + 2;
  out[at + 4] = instruction;
  const end = at + 5 + params;
  out[end] = checksum(out, at + 2, end);
  return end + 1 - at;
}

/** Sign-magnitude → integer (lerobot decode_sign_magnitude). */
export function decodeSignMagnitude(raw: number, signBit: number): number {
  const magnitude = raw & ((1 << signBit) - 1);
  return (raw >> signBit) & 1 ? -magnitude : magnitude;
}

/** Integer → sign-magnitude, the magnitude clamped to what the field holds (never throws in the tick). */
export function encodeSignMagnitude(value: number, signBit: number): number {
  const max = (1 << signBit) - 1;
  let magnitude = value < 0 ? -value : value;
  if (magnitude > max) magnitude = max;
  return value < 0 ? (1 << signBit) | magnitude : magnitude;
}

/** Little-endian 16-bit value at `at`. */
export function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

export function putU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >> 8) & 0xff;
}

/** The names of the error bits set in `error` ('overheat, overload'), or 'none'. */
export function statusErrorNames(error: number): string {
  const names = STATUS_ERROR_TEXT.filter(([bit]) => (error & bit) !== 0).map(([, name]) => name);
  const unknown = error & ~STATUS_ERROR_TEXT.reduce((mask, [bit]) => mask | bit, 0);
  if (unknown !== 0) names.push(`unknown bit(s) 0x${unknown.toString(16)}`);
  return names.length > 0 ? names.join(', ') : 'none';
}

/** What to do about the error bits set in `error`. */
export function statusErrorFixes(error: number): string {
  return STATUS_ERROR_TEXT.filter(([bit]) => (error & bit) !== 0).map(([, , fix]) => fix).join('; ');
}
