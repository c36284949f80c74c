/** Fault injectors that wrap production drivers at the HAL boundary (used by the HIL harness). */
export { JointFault, JointFaultInjector, type JointFaultCode } from './joints.js';
export { CameraFault, CameraFaultInjector, type CameraFaultCode } from './camera.js';
