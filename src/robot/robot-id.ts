/**
 * The one rule for `robot_id`, shared by the robot.yaml schema and the MQTT topic map
 * (docs/MQTT.md says the same). The id is one MQTT topic level (`embody/<robot_id>/`) and one
 * directory name (the outbox lives in `<state_dir>/outbox/<robot_id>/`), so a wildcard or a
 * separator would let a robot publish into, or listen on, another robot's subtree, and `..` would
 * put its outbox outside the state directory.
 */
export const ROBOT_ID_MAX_LENGTH = 64;

export const robotIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const robotIdRule = `1 to ${ROBOT_ID_MAX_LENGTH} letters, digits, '_', '.' or '-', starting with a letter or digit (it is an MQTT topic level: no '/', '+', '#')`;

/** Why `id` is not a valid robot_id, or undefined when it is. */
export function robotIdProblem(id: string): string | undefined {
  if (robotIdPattern.test(id)) return undefined;
  if (id.length === 0) return `robot_id is empty; use ${robotIdRule}`;
  if (id.length > ROBOT_ID_MAX_LENGTH) return `robot_id is ${id.length} characters, more than ${ROBOT_ID_MAX_LENGTH}; use ${robotIdRule}`;
  const bad = [...id].find((c) => !/[A-Za-z0-9_.-]/.test(c));
  const what = bad === undefined ? `starts with ${JSON.stringify(id[0])}` : `contains ${JSON.stringify(bad)}`;
  return `robot_id ${JSON.stringify(id)} ${what}; use ${robotIdRule}`;
}
