/**
 * The policy manifest: what an ONNX policy takes and gives, in the robot's terms.
 * The runtime checks the real model against it at load (see model-check.ts) and builds every
 * observation and action from it, so a new policy is a new manifest, not new code.
 */
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const positiveStd = finite.refine((v) => v > 0, { message: 'a standard deviation must be > 0' });

const normalizationSchema = z
  .object({
    mean: z.array(finite).min(1),
    std: z.array(positiveStd).min(1),
  })
  .strict()
  .describe('model value = (raw - mean) / std, element-wise');

export const jointStateInputSchema = z
  .object({
    kind: z.literal('joint_state'),
    name: z.string().describe('ONNX input name'),
    joints: z.array(z.string()).min(1).describe('joint names from robot.yaml, in model order'),
    fields: z.array(z.enum(['position', 'velocity'])).min(1).default(['position']),
    normalize: normalizationSchema.optional(),
  })
  .strict();

export const cameraInputSchema = z
  .object({
    kind: z.literal('camera'),
    name: z.string(),
    camera: z.string().describe('camera name from robot.yaml'),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    layout: z.enum(['NCHW', 'NHWC']),
    channels: z.enum(['rgb', 'bgr', 'gray']),
    scale: finite.default(1 / 255).describe('raw byte value is multiplied by this first'),
    normalize: normalizationSchema.optional().describe('per channel, after scale'),
  })
  .strict();

export const touchInputSchema = z
  .object({
    kind: z.literal('touch'),
    name: z.string(),
    fingertips: z.array(z.string()).min(1).describe('fingertip names from robot.yaml'),
    features: z.array(z.enum(['contact', 'force', 'area'])).min(1),
    normalize: normalizationSchema.optional(),
  })
  .strict();

export const instructionInputSchema = z
  .object({
    kind: z.literal('instruction'),
    name: z.string(),
    max_length: z.number().int().min(1).describe('bytes of UTF-8; longer text is cut'),
  })
  .strict();

export const policyInputSchema = z.discriminatedUnion('kind', [
  jointStateInputSchema,
  cameraInputSchema,
  touchInputSchema,
  instructionInputSchema,
]);

export const actionOutputSchema = z
  .object({
    name: z.string().describe('ONNX output name, shape [1, horizon, joints.length]'),
    horizon: z.number().int().min(1).max(1024),
    joints: z.array(z.string()).min(1).describe('joint names from robot.yaml, in model order'),
    mode: z.enum(['absolute', 'delta']).describe('delta: offsets from the observed positions'),
    units: z.array(z.enum(['rad', 'm'])).min(1).describe('one per joint; checked against joint types'),
    normalize: normalizationSchema.optional().describe('raw = model * std + mean, per joint'),
  })
  .strict();

/**
 * A policy served by an openpi websocket server (openpi's serve_policy.py, or `embody policy
 * serve`). Each input's `name` is then the observation key (`observation/image`, `prompt`) and
 * the output's `name` the reply key (`actions`, shape [horizon, joints]).
 */
export const openpiSourceSchema = z
  .object({
    kind: z.literal('openpi'),
    url: z.string().regex(/^wss?:\/\/[^/]+/, { message: 'must be a ws:// or wss:// URL, e.g. ws://gpu-box:8000' }),
    api_key_file: z.string().optional().describe('file holding the key sent as `Authorization: Api-Key KEY`, relative to this manifest'),
    fallback: z.string().optional().describe('local ONNX policy manifest that drives when the server cannot, relative to this manifest'),
    deadline_ms: z.number().positive().optional().describe('a chunk later than this is a miss; default: the time the rest of a chunk lasts after replan_after'),
    healthy_round_trips: z.number().int().min(1).default(5).describe('on-time answers in a row before the remote policy drives again'),
  })
  .strict();

export const policySourceSchema = z.discriminatedUnion('kind', [z.object({ kind: z.literal('onnx') }).strict(), openpiSourceSchema]);

export const policyManifestSchema = z
  .object({
    name: z.string().min(1),
    source: policySourceSchema.optional().describe('where the policy runs: onnx (here, `model`; the default) or openpi (a server)'),
    model: z.string().optional().describe('ONNX file, relative to this manifest (required unless source is openpi)'),
    rate_hz: finite
      .refine((v) => v > 0 && v <= 1000, { message: 'must be in (0, 1000]' })
      .describe('time step between consecutive actions of a chunk'),
    replan_after: z.number().int().min(1).describe('actions executed before the next chunk is asked for'),
    blend_steps: z.number().int().min(0).default(3).describe('actions over which a new chunk fades in'),
    inputs: z.array(policyInputSchema).min(1),
    output: actionOutputSchema,
  })
  .strict();

export type PolicyManifest = z.infer<typeof policyManifestSchema>;
export type OpenpiSource = z.infer<typeof openpiSourceSchema>;
export type PolicyInput = z.infer<typeof policyInputSchema>;
export type CameraInput = z.infer<typeof cameraInputSchema>;
export type JointStateInput = z.infer<typeof jointStateInputSchema>;
export type TouchInput = z.infer<typeof touchInputSchema>;
export type ActionOutput = z.infer<typeof actionOutputSchema>;
