/** The simulated robot's door: plant, joints, wrist camera and seeded randomness. */
export { SimPlant, World, describeWorld, worldTask, type PlantTruth } from './plant.js';
export { SimJointHardware } from './joint-hardware.js';
export { renderWristFrame } from './wrist-camera.js';
export { createRandom, type Random } from './random.js';
