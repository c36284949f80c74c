/**
 * The Feetech room's door: the SCS/STS serial bus protocol (packets, the STS3215 control table,
 * sign-magnitude), the streaming status parser, the tty serial port, the bus, and
 * FeetechArmHardware, the JointHardware of an SO-100/SO-101 arm.
 */
export * from './protocol.js';
export { ParserCount, StatusParser } from './parser.js';
export { TtySerialPort, latencyTimerFile, type SerialLink, type SerialOptions } from './serial.js';
export { BusStat, FeetechBus, SyncRead, byteMicros } from './bus.js';
export { FeetechArmHardware, ServoReading, readLerobotCalibration, type FeetechArmOptions } from './arm.js';
export { formatFeetechProbe, probeFeetechArm, type FeetechProbe, type FeetechServoProbe } from './probe.js';
