/**
 * The example arm of docs/HARDWARE.md as a ServoArmConfig input: six hobby servos on a PCA9685
 * (0x40), an AS5600 on each joint behind a TCA9548A (0x70, channels 0-5), two fingertip FSRs on an
 * ADS1115 (0x48, AIN0/AIN1), an INA219 on the servo rail (0x41), /OE on BCM 17. The bench, the
 * tests and robots/pi-servo-arm.yaml start from it.
 */
import type { ServoArmConfigInput } from '../../../robot/index.js';
import { fsrCalibration } from './servo-arm-model.js';

export const PI_SERVO_ARM_JOINTS = ['base_yaw', 'shoulder_pitch', 'elbow_pitch', 'wrist_pitch', 'wrist_roll', 'gripper'] as const;

export function piServoArmExample(): ServoArmConfigInput {
  return {
    bus: 1,
    pca9685: { address: 0x40, frequency_hz: 50 },
    mux: { address: 0x70 },
    joints: PI_SERVO_ARM_JOINTS.map((name, i) => ({
      name,
      channel: i,
      // A 180° servo: 500 µs at −90°, 2500 µs at +90° (measure each one: docs/HARDWARE.md).
      servo: { min_us: 500, max_us: 2500, min_angle: -Math.PI / 2, max_angle: Math.PI / 2 },
      encoder: { mux_channel: i, zero_raw: 2048, direction: 1 as const },
      torque_per_amp: 0.4,
    })),
    fsr: {
      address: 0x48,
      data_rate: 860,
      pga_volts: 4.096,
      fingertips: [
        { name: 'left_pad', input: 0, calibration: fsrCalibration([0, 0.5, 1, 2, 5, 10, 20]) },
        { name: 'right_pad', input: 1, calibration: fsrCalibration([0, 0.5, 1, 2, 5, 10, 20]) },
      ],
    },
    power: { address: 0x41, shunt_ohms: 0.1, max_current_a: 3.2, brownout_volts: 4.5 },
    output_enable: { chip: 'gpiochip0', line: 17 },
  };
}
