/** Touch from the wrist camera: the estimator, its flags, force calibration and the worker. */
export { createTouchEstimator, type TouchEstimator, type TouchEstimatorOptions, type TouchReadout } from './estimator.js';
export { TouchFlag, UNTRUSTED_FLAGS, describeTouchFlags, type TouchFlagName } from './flags.js';
export { applyForceCalibration, fitForceCalibration, type CalibrationFit, type CalibrationPoint, type ForceCalibration } from './calibration.js';
export { TouchWorker, type TouchWorkerOptions } from './worker.js';
