/**
 * Entry point of the policy process: loads one model with the runtime's session options, reports
 * its signature, then answers one run per request. It owns nothing else; the runtime may kill it
 * at any moment (SIGKILL on shutdown, even mid-run), so it never holds state worth saving.
 *
 *   node policy-process.js MODEL.onnx        (spawned by process-session.ts with an IPC channel)
 */
import * as ort from 'onnxruntime-node';
import { isHostRequest, type HostReply, type WireTensor } from './host-protocol.js';
import { policySessionOptions } from './session-options.js';

function send(reply: HostReply): void {
  process.send?.(reply);
}

function toWire(name: string, value: ort.OnnxValue): WireTensor {
  const tensor = value as ort.Tensor;
  return { name, type: tensor.type, dims: [...tensor.dims], data: tensor.data as WireTensor['data'] };
}

async function main(modelPath: string): Promise<void> {
  // Stop and shutdown are the runtime's: a Ctrl-C or systemd's SIGTERM to the whole group must
  // not end inference underneath a controlled stop. The runtime kills this process when done,
  // and a lost parent (the IPC channel closes) ends it too.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  process.on('disconnect', () => process.exit(0));
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, policySessionOptions);
  } catch (error) {
    send({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
    process.disconnect?.();
    return;
  }
  const { inputNames, outputNames, inputMetadata, outputMetadata } = session;
  send({ kind: 'ready', signature: { inputNames: [...inputNames], outputNames: [...outputNames], inputMetadata: [...inputMetadata], outputMetadata: [...outputMetadata] } });
  process.on('message', (message: unknown) => {
    if (!isHostRequest(message)) return;
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of message.feeds) feeds[f.name] = new ort.Tensor(f.type as ort.Tensor.Type, f.data, f.dims);
    session.run(feeds).then(
      (outputs) => send({ kind: 'result', id: message.id, outputs: Object.entries(outputs).map(([name, v]) => toWire(name, v)) }),
      (error: unknown) => send({ kind: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) }),
    );
  });
}

const modelPath = process.argv[2];
if (modelPath === undefined || process.send === undefined) {
  process.stderr.write('policy-process: spawned by the runtime with a model path and an IPC channel\n');
  process.exit(2);
}
void main(modelPath);
