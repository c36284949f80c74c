#!/usr/bin/env bash
# Regenerates the JSON Schema section of docs/MQTT.md from the zod schemas in
# src/telemetry/schemas.ts (test/telemetry/commands.test.ts fails while it is out of date).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx --input-type=module -e "
import { readFileSync, writeFileSync } from 'node:fs';
import { updateMqttDoc } from './src/telemetry/mqtt-doc.ts';
const file = 'docs/MQTT.md';
const before = readFileSync(file, 'utf8');
const after = updateMqttDoc(before);
writeFileSync(file, after);
process.stdout.write(before === after ? file + ': up to date\n' : file + ': schemas updated\n');
"
