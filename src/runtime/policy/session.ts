/**
 * What the runner needs from a loaded model, wherever it runs: its signature (checked against the
 * manifest before anything moves) and one call per observation. An onnxruntime InferenceSession
 * is one ('inline', on the main thread); a ProcessSession (process-session.ts) is the other.
 */
import type * as ort from 'onnxruntime-node';

/** The part of an InferenceSession the manifest check reads; tests can pass a plain object. */
export type ModelSignature = Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>;

/** One output of a run: what the runner reads of an ort.Tensor. */
export type PolicyTensor = Pick<ort.Tensor, 'type' | 'dims' | 'data'>;

export interface PolicySession extends ModelSignature {
  run(feeds: Record<string, ort.Tensor>): Promise<Readonly<Record<string, PolicyTensor>>>;
  release(): Promise<void>;
}

/**
 * Where the model runs (robot.yaml `policy.host`). 'process': a child process the runtime can
 * always interrupt, so a slow model holds no command, signal or watchdog pet; 'inline': on the
 * main thread, no hand-over cost, for models that take well under a millisecond and for the HIL.
 */
export type PolicyHost = 'process' | 'inline';
