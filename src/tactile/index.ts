/** Touch from the wrist camera: the estimator and its types. */
export { createTouchEstimator, type TouchEstimator, type TouchEstimatorOptions } from './estimator.js';
