/**
 * The node flags PiCloud's processes run with (src/common/runtime.ts) are the same everywhere a process is started
 * outside the code: `npm start`, the systemd unit and the container image.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/common/runtime.ts';
import { ROOT, startArgs } from '../helpers/start.ts';

const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');

describe('process start commands', () => {
  it('should start the compiled platform with NODE_FLAGS in npm start', () => {
    expect(startArgs()).toEqual([...NODE_FLAGS, 'dist/cli/main.js', 'up']);
  });

  it('should use the same flags and entry in the systemd unit and the Dockerfile', () => {
    expect(read('docker/systemd/picloud.service')).toContain(`/usr/bin/node ${NODE_FLAGS.join(' ')} dist/cli/main.js up`);
    expect(read('docker/Dockerfile')).toContain(JSON.stringify(['/usr/bin/tini', '--', 'node', ...NODE_FLAGS, 'dist/cli/main.js']).replaceAll(',', ', '));
  });
});
