/**
 * The I2C bus folder's door: the synchronous `I2cBus` contract the device drivers use, the real
 * bus over i2c-bus (linux.ts), the emulated bus that routes to device models (emulated.ts), a
 * transaction log, and the off-tick probe for `embody check`.
 */
export * from './types.js';
export { I2cError, i2cFix, isRetryable, errorCode } from './errors.js';
export { I2cBusBase, I2cTransferFault, type I2cBusOptions } from './base.js';
export { I2cTransactionLog, type I2cLogEntry } from './log.js';
export { EmulatedI2cBus, type I2cDeviceModel, type I2cMuxModel } from './emulated.js';
export { LinuxI2cBus, openI2cBus, type I2cBusHandle, type I2cSyncBackend, type LinuxI2cBusOptions } from './linux.js';
export { probeI2cBus, type ProbeOptions, type ProbeResult, type ProbeTarget } from './probe.js';
