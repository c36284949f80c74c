/**
 * One set of onnxruntime session options for every policy session the runtime opens.
 * Single-threaded and not spinning: at 10-50 calls per second a spinning intra-op pool burns
 * a whole core of this 2-core computer waiting for work, and the control worker needs it.
 */
import type * as ort from 'onnxruntime-node';

export const policySessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};
