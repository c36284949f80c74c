/**
 * `embody policy serve MANIFEST`: one ONNX policy served over openpi's websocket protocol, so a
 * GPU box can serve a fleet and any openpi client (or `embody run` with an openpi source) can use
 * it. Runs until SIGINT/SIGTERM.
 */
import { ConfigError, createLogger, displayFile, loadConfig, servePolicy } from '../runtime/index.js';

export interface PolicyServeCliOptions {
  robot: string;
  port: number;
  host: string;
  logLevel: string;
}

export async function policyServeCommand(manifestFile: string, options: PolicyServeCliOptions): Promise<number> {
  const log = createLogger({ level: options.logLevel });
  let config;
  try {
    config = await loadConfig(options.robot, { policyOverride: manifestFile });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (config.remote !== undefined) {
    process.stderr.write(`${displayFile(manifestFile)}: source: the policy is already served by ${config.remote.source.url}; serve a local ONNX manifest\n`);
    await config.session.release();
    return 2;
  }
  let served = 0;
  const server = await servePolicy({ session: config.session, manifest: config.manifest, robot: config.robot, port: options.port, host: options.host, onInference: () => served++ });
  log.info({ policy: config.manifest.name, port: server.port, host: options.host }, `serving ${config.manifest.name} over the openpi protocol on ws://${options.host}:${server.port} (GET /healthz)`);
  const signal = await new Promise<string>((resolve) => {
    for (const name of ['SIGINT', 'SIGTERM'] as const) process.once(name, () => resolve(name));
  });
  log.info({ signal, served }, 'stopping the policy server');
  await server.close();
  await config.session.release();
  log.flush();
  return 0;
}
