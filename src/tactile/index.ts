/** Touch from the wrist camera: the estimator, its flags and force calibration. */
export {
  createTouchEstimator,
  touchReadoutFieldNames,
  touchReadoutFields,
  type TouchEstimator,
  type TouchEstimatorOptions,
  type TouchReadout,
  type TouchReadoutField,
} from './estimator/index.js';
export { TouchFlag, UNTRUSTED_FLAGS, describeTouchFlags, type TouchFlagName } from './flags.js';
export { applyForceCalibration, fitForceCalibration, type CalibrationFit, type CalibrationPoint, type ForceCalibration } from './calibration.js';
