/**
 * The node flags PiCloud's processes run with (src/common/runtime.ts) are the same everywhere a process is started
 * outside the code: `npm start`, the systemd units and the container image; the cluster's units and compose
 * services start the roles that exist (manager, orchestrator with executor threads, executor processes).
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

  it('should start each cluster role with the same flags in its systemd unit', () => {
    const exec = (unit: string) => /^ExecStart=(.*)$/m.exec(read(`docker/systemd/${unit}`))?.[1];
    const node = `/usr/bin/node ${NODE_FLAGS.join(' ')} dist/cli/main.js`;
    expect(exec('picloud-manager.service')).toBe(`${node} manager`);
    expect(exec('picloud-orchestrator.service')).toBe(`${node} orchestrator --executors \${PICLOUD_ORCHESTRATOR_THREADS}`);
    expect(exec('picloud-executor@.service')).toBe(`${node} executor --threads \${PICLOUD_EXECUTOR_THREADS} --port %i`);
    // started = ready: both wait for their own /readyz
    expect(read('docker/systemd/picloud-executor@.service')).toMatch(/^ExecStartPost=.*http:\/\/\$\{HOST\}:%i\/readyz/m);
    expect(read('docker/systemd/picloud-orchestrator.service')).toMatch(/^ExecStartPost=.*http:\/\/\$\{HOST\}:\$\{PORT\}\/readyz/m);
    for (const u of ['picloud-manager.service', 'picloud-orchestrator.service', 'picloud-executor@.service']) {
      expect(read(`docker/systemd/${u}`)).toContain('EnvironmentFile=/etc/picloud/env');
    }
  });

  it('should run every role and Redis as BullMQ needs it in compose.yaml', () => {
    const compose = read('docker/compose.yaml');
    expect(compose).toContain('command: ["manager"]');
    expect(compose).toMatch(/command: \["orchestrator", "--executors", /);
    expect(compose).toMatch(/command: \["executor", "--threads", "\$\{PICLOUD_EXECUTOR_THREADS:-2\}", "--port", "8082"\]/);
    expect(compose).toContain("fetch('http://127.0.0.1:8082/readyz')");
    expect(compose).toMatch(/redis-server", "--appendonly", "yes".*"--maxmemory-policy", "noeviction"/);
    expect(compose).toContain('../caddy/Caddyfile:/etc/caddy/Caddyfile:ro');
    expect(compose).toContain('PICLOUD_ORCHESTRATORS: ${PICLOUD_ORCHESTRATORS:-orchestrator:8081}');
  });
});
