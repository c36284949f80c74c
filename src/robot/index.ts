/**
 * The robot room's door: what robot.yaml describes (joints, limits, cameras, fingertips, drivers'
 * settings), validated by one zod schema, and the kinematics computed from it. It sits below every
 * other room: hal, safety, tactile, runtime and hil import it, and it imports none of them.
 */
export * from './description.js';
export * from './robot-id.js';
export * from './servo-arm.js';
export * from './feetech.js';
export { SerialChain } from './kinematics.js';
