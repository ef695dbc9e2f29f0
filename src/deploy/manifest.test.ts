import { describe, expect, it } from 'vitest';
import { checkAllowEntry, checkCron, checkRoutePath, normaliseRoutePath, parseManifest } from './manifest.ts';
import { scanTomlPositions } from './toml-positions.ts';

const problems = (src: string) => parseManifest(src).diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);

describe('parseManifest', () => {
  it('should accept the documented example', () => {
    const r = parseManifest(`[app]
production_branch = "main"
[env]
GREETING = "hello"
[[routes]]
path = "/hello/:name"
method = ["get", "POST"]
script = "hello.rhai"
function = "handle"
[[schedules]]
cron = "*/5 * * * *"
script = "tick.rhai"
[limits]
max_operations = 1000000
timeout_ms = 5000
max_body_bytes = 1048576
concurrency = 2
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest).toMatchObject({
      productionBranch: 'main',
      env: { GREETING: 'hello' },
      limits: { maxOperations: 1_000_000, timeoutMs: 5000, maxBodyBytes: 1_048_576, concurrency: 2 },
      routes: [{ path: '/hello/:name', methods: ['GET', 'POST'], script: 'hello.rhai', function: 'handle' }],
      schedules: [{ cron: '*/5 * * * *', script: 'tick.rhai', function: null }],
    });
  });

  it('should report a syntax error at its line and column', () => {
    expect(problems('[[routes]]\npath = "/a"\nscript = \n')).toEqual([expect.stringMatching(/^3:\d+: TOML syntax error/)]);
  });

  it('should report unknown keys at every level with their positions', () => {
    expect(problems('colour = 1\n[app]\nname = "x"\n[[routes]]\npath = "/"\nscript = "a.rhai"\n  handler = "h"\n')).toEqual([
      '1:1: unknown key "colour" (allowed: app, env, routes, schedules, queues, limits, fetch, preview)',
      '3:1: unknown key "app.name" in [app] (allowed: production_branch)',
      '7:3: unknown key "routes.handler" in [routes] (allowed: path, method, script, function)',
    ]);
  });

  it('should report wrong types, missing keys, bad methods and limits over the platform maximum', () => {
    expect(problems('[[routes]]\npath = 3\nmethod = "FETCH"\n[[schedules]]\nscript = "t.rhai"\n[env]\nA = 1\n[limits]\ntimeout_ms = 999999999\n')).toEqual([
      '1:1: [routes] entry is missing required key "script"',
      '2:8: "path" must be a string',
      '3:10: unknown HTTP method "FETCH" (allowed: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, or "*")',
      '4:1: [schedules] entry is missing required key "cron"',
      '7:5: env value "A" must be a string',
      '9:14: "timeout_ms" = 999999999 is over the platform maximum 30000',
    ]);
  });

  it('should read [fetch] and normalise its allow entries', () => {
    const r = parseManifest('[fetch]\nallow = ["192.168.1.20:8123", "NAS.lan", "fd00::1", "[fd00::2]:80"]\nmax_requests = 1000\ntimeout_ms = 2000\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest?.fetch).toEqual({ allow: ['192.168.1.20:8123', 'nas.lan', '[fd00::1]', '[fd00::2]:80'], maxRequests: 1000, timeoutMs: 2000 });
    expect(parseManifest('').manifest?.fetch).toEqual({});
  });

  it('should report bad [fetch] keys and values at their line and column', () => {
    expect(problems('[fetch]\nallow = "nas.lan"\nmax_requests = 1001\ntimeout_ms = 0\nproxy = "x"\n')).toEqual([
      '2:9: "allow" must be an array of strings ("host" or "host:port")',
      '3:16: "max_requests" = 1001 is over the platform maximum 1000',
      '4:14: "timeout_ms" must be a positive integer',
      '5:1: unknown key "fetch.proxy" in [fetch] (allowed: allow, max_requests, timeout_ms)',
    ]);
    expect(problems('[fetch]\nallow = ["ok.lan", "http://x.lan", "a:99999"]\n')).toEqual([
      '2:9: invalid [fetch] allow entry "http://x.lan": expected a host name or IP address, optionally with :port',
      '2:9: invalid [fetch] allow entry "a:99999": port must be 1..65535',
    ]);
    expect(problems('fetch = 3\n')).toEqual(['1:1: [fetch] must be a table']);
  });

  it('should check [fetch] allow entries', () => {
    for (const ok of ['nas.lan', 'nas.lan:8123', '10.0.0.1', '10.0.0.1:80', '::1', '[::1]:8080', 'localhost']) expect(checkAllowEntry(ok)).toBeNull();
    for (const bad of ['', 'a b', 'x.lan/', '[10.0.0.1]:80', '*.lan', 'a..b', ':80']) expect(checkAllowEntry(bad)).toMatch(/invalid/);
  });

  it('should report route conflicts only for overlapping methods', () => {
    const toml = (m2: string) => `[[routes]]\npath = "/a/:x"\nmethod = ["GET", "POST"]\nscript = "a.rhai"\n[[routes]]\npath = "/a/:y/"\nmethod = ${m2}\nscript = "b.rhai"\n`;
    expect(problems(toml('"PUT"'))).toEqual([]);
    expect(problems(toml('"POST"'))).toEqual(['6:8: route POST /a/:y/ conflicts with the route /a/:x declared at line 2']);
    expect(problems(toml('"*"'))).toEqual(['6:8: route GET,POST /a/:y/ conflicts with the route /a/:x declared at line 2']);
  });
});

describe('route paths and cron', () => {
  it('should validate route path syntax', () => {
    expect(checkRoutePath('/hello/:name/*')).toBeNull();
    expect(checkRoutePath('/')).toBeNull();
    expect(checkRoutePath('hello')).toMatch(/must start with/);
    expect(checkRoutePath('/a/*/b')).toMatch(/only as the last segment/);
    expect(checkRoutePath('/a/:1x')).toMatch(/invalid parameter name/);
    expect(checkRoutePath('/a/:x/:x')).toMatch(/duplicate parameter/);
    expect(checkRoutePath('/a//b')).toMatch(/empty segment/);
    expect(checkRoutePath('/a/../b')).toMatch(/not allowed/);
    expect(normaliseRoutePath('/a/:x/')).toBe(normaliseRoutePath('/a/:y'));
  });

  it('should accept 5 fields or 6 with seconds, and reject the rest', () => {
    expect(checkCron('*/5 * * * *')).toBeNull();
    expect(checkCron('0 */5 * * * *')).toBeNull();
    expect(checkCron('0 0 0 1 1 * 2030')).toMatch(/got 7/);
    expect(checkCron('61 * * * *')).toMatch(/61/);
    expect(checkCron('* *')).toMatch(/expected 5 fields/);
  });
});

describe('parseManifest: [[queues]], overlap, [preview]', () => {
  it('should read queues with defaults, overlap and [preview] schedules', () => {
    const r = parseManifest(`[[schedules]]
cron = "* * * * * *"
script = "t.rhai"
overlap = true
[[queues]]
name = "emails"
script = "send.rhai"
function = "deliver"
attempts = 5
backoff_ms = 250
concurrency = 2
[[queues]]
name = "thumbs_2"
script = "t.rhai"
[preview]
schedules = true
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest).toMatchObject({
      schedules: [{ cron: '* * * * * *', overlap: true }],
      queues: [
        { name: 'emails', script: 'send.rhai', function: 'deliver', attempts: 5, backoffMs: 250, concurrency: 2 },
        { name: 'thumbs_2', script: 't.rhai', function: null, attempts: 3, backoffMs: 1000, concurrency: 4 },
      ],
      previewSchedules: true,
    });
    expect(parseManifest('[[schedules]]\ncron = "* * * * *"\nscript = "t.rhai"\n').manifest).toMatchObject({ schedules: [{ overlap: false }], queues: [], previewSchedules: false });
  });

  it('should report bad queue names, duplicates, numbers, unknown keys and bad booleans at their positions', () => {
    expect(problems(`[[queues]]
name = "Emails"
script = "a.rhai"
[[queues]]
name = "a"
script = "a.rhai"
attempts = 0
[[queues]]
name = "a"
script = "a.rhai"
concurrency = 1000
retries = 2
[[schedules]]
cron = "* * * * *"
script = "a.rhai"
overlap = "no"
[preview]
schedules = 1
deploy = true
`)).toEqual([
      expect.stringMatching(/^2:8: invalid queue name "Emails"/),
      '7:12: "attempts" must be an integer ≥ 1',
      '9:8: queue "a" is declared twice (first at line 5)',
      '11:15: "concurrency" = 1000 is over the maximum 256',
      '12:1: unknown key "queues.retries" in [queues] (allowed: name, script, function, attempts, backoff_ms, concurrency)',
      '16:11: "overlap" must be true or false',
      '18:13: "schedules" must be true or false',
      '19:1: unknown key "preview.deploy" in [preview] (allowed: schedules)',
    ]);
  });
});

describe('scanTomlPositions', () => {
  it('should find keys inside array tables, quoted keys, and skip strings and multi-line arrays', () => {
    const pos = scanTomlPositions('a = """\nx = 1\n"""\n[[r]]\n  "q k" = [\n  1,\n  2]\nb = "# not = a key"\n[[r]]\nc = 1\n');
    expect(pos.get('a')).toMatchObject({ line: 1, col: 1, valueLine: 1, valueCol: 5 });
    expect(pos.has('x')).toBe(false);
    expect(pos.get('r[0].q k')).toMatchObject({ line: 5, col: 3 });
    expect(pos.get('r[0].b')).toMatchObject({ line: 8, col: 1, valueCol: 5 });
    expect(pos.get('r[1]')).toMatchObject({ line: 9, col: 1 });
    expect(pos.get('r[1].c')).toMatchObject({ line: 10, col: 1 });
  });
});
