/** The touch estimator: its stages live beside this file; src/tactile/index.ts is the room's door. */
export { createTouchEstimator, type TouchEstimator } from './estimator.js';
export type { TouchEstimatorOptions } from './options.js';
export { touchReadoutFieldNames, touchReadoutFields, type TouchReadout, type TouchReadoutField } from './readout.js';
