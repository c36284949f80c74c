/** Writing ONNX models from TypeScript: the demo and linear policies, and the builder under them. */
export {
  writeDemoPolicyOnnx,
  demoPolicyOnnxFp32,
  demoPolicyOnnxInt8,
  calibrateDemoNetwork,
  activationQuantization,
  demoNetworkToJson,
  demoNetworkFromJson,
  readDemoNetworkJson,
  writeDemoNetworkJson,
  randomDemoNetwork,
  randomDemoObservations,
  seededRandom,
  DEMO_NETWORK_SIZE,
  DEMO_INPUT_NAMES,
  DEMO_OUTPUT_NAME,
  type DemoCalibration,
  type DemoPolicyOptions,
  type DemoActivationRanges,
  type DemoNetworkJson,
  type RandomDemoNetworkSpec,
} from './demo-policy.js';
export { writeLinearPolicyOnnx, linearPolicyOnnx, type LinearPolicySpec } from './linear-policy.js';
export { writeSlowPolicyOnnx, slowPolicyOnnx, type SlowPolicySpec } from './slow-policy.js';
export { GraphBuilder, attr, type Attribute, type ElementType, type GraphBuilderOptions, type TensorData } from './graph.js';
export { encodeModel, decodeModel, DataType, AttributeType } from './proto.js';
export type { ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto, ValueInfoProto, TypeProto, OperatorSetIdProto } from './proto.js';
