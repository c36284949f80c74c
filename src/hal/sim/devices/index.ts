/**
 * Register-level models of the arm's I2C chips (PCA9685, ADS1115, INA219, AS5600, TCA9548A) with
 * their quirks and fault modes, and the emulated servo arm that wires them to a servo plant.
 */
export { SimClock, DeviceModel, type ModelFault } from './model.js';
export { Pca9685Model } from './pca9685-model.js';
export { Ads1115Model } from './ads1115-model.js';
export { Ina219Model } from './ina219-model.js';
export { As5600Model, type MagnetState } from './as5600-model.js';
export { Tca9548aModel } from './tca9548a-model.js';
export {
  DEFAULT_FSR,
  EmulatedServoArmHardware,
  fsrCalibration,
  fsrVolts,
  ServoArmModel,
  type EmulatedServoArmOptions,
  type FsrDivider,
  type ServoArmModelOptions,
  type ServoArmModels,
} from './servo-arm-model.js';
export { piServoArmExample, PI_SERVO_ARM_JOINTS } from './presets.js';
