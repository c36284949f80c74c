/**
 * The I2C device drivers' door: one file per chip with its register map (PCA9685 PWM, ADS1115 ADC,
 * INA219 current monitor, AS5600 encoder, TCA9548A mux), the servo-arm configuration schema, and
 * ServoArmHardware, the JointHardware that puts them together.
 */
export { I2cDevice, I2cDeviceError, type MuxRoute } from './i2c-device.js';
export {
  FULL,
  Mode1,
  Mode2,
  Pca9685,
  pca9685Prescale,
  Pca9685Reg,
  PCA9685_CHANNELS,
  PCA9685_DEFAULT_ADDRESS,
  PCA9685_OSCILLATOR_HZ,
  type Pca9685Options,
} from './pca9685.js';
export {
  Ads1115,
  ads1115Config,
  Ads1115Reg,
  ADS1115_DATA_RATES,
  ADS1115_DEFAULT_CONFIG,
  ADS1115_PGA_VOLTS,
  type Ads1115DataRate,
  type Ads1115Options,
  type Ads1115Pga,
} from './ads1115.js';
export { Ina219, ina219Calibration, Ina219Reg, Ina219Value, INA219_DEFAULT_CONFIG, INA219_SHUNT_RANGES, type Ina219Calibration, type Ina219Options } from './ina219.js';
export { As5600, as5600Counts, As5600Reg, As5600Status, as5600UnitsPerCount, AS5600_ADDRESS, AS5600_COUNTS, type As5600Options } from './as5600.js';
export { fsrNewtons } from './fsr.js';
export { Tca9548a, TCA9548A_DEFAULT_ADDRESS } from './tca9548a.js';
export { ServoArmHardware, Supply, type BusLease, type ServoArmOptions } from './servo-arm.js';
export { encoderJointPosition, formatServoArmProbe, probeServoArm, servoArmProbeProblems, type DeviceProbe, type DeviceProbeStatus, type ProbedChip, type ServoArmProbeOptions } from './probe-arm.js';
