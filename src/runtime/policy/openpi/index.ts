/**
 * openpi's websocket policy protocol, both ends: the remote brain `embody run` drives with (a
 * server's chunks, a local policy to fall back on) and the server `embody policy serve` runs.
 */
import type { RobotDescription } from '../../../robot/index.js';
import type { OpenpiSource, PolicyManifest } from '../manifest.js';
import { defaultDeadlineMs, RemoteBrain, type BrainEvent, type LocalPolicy } from './brain.js';

export { RemoteBrain, defaultDeadlineMs, type BrainEvent, type BrainReport, type LocalPolicy } from './brain.js';
export { servePolicy, type ServedPolicy, type PolicyServerOptions } from './server.js';

/** The brain for a manifest whose source is openpi, the local runner beneath it. */
export function remoteBrain(
  remote: { manifest: PolicyManifest; source: OpenpiSource; apiKey?: string },
  robot: RobotDescription,
  local: LocalPolicy | undefined,
  emit: (event: BrainEvent) => void,
): RemoteBrain {
  return new RemoteBrain({
    url: remote.source.url,
    ...(remote.apiKey === undefined ? {} : { apiKey: remote.apiKey }),
    manifest: remote.manifest,
    robot,
    ...(local === undefined ? {} : { local }),
    deadlineMs: defaultDeadlineMs(remote.manifest, robot),
    healthyRoundTrips: remote.source.healthy_round_trips,
    emit,
  });
}
