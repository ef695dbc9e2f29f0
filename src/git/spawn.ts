/**
 * Running git without forking the platform. `child_process.spawn` on Linux forks the calling process (libuv 1.46,
 * Node 20): every page of the platform becomes copy-on-write, and afterwards the first write to each page the
 * platform keeps writing (V8's young generations: 16 MB semi-spaces per executor thread, the main thread's heap)
 * takes a page fault, whichever thread or app it is. Measured on the 2-core VM: a process with 64 MB of touched
 * memory paid 16,404 faults and 209 ms re-touching it after one spawn of `true`; the first request after a push
 * took 60–150 faults (+1.3–1.9 ms over a request after the same idle) against 2–6, and a push spawns git 4–6
 * times. So git runs from a small spawner process started with the server (Java's jspawnhelper answers the same
 * problem the same way): forking it (a small Perl program, below) copies ~10 MB, not the platform.
 *
 * Protocol (one Unix socket in a private temp directory, owner-only): a spawn opens four connections to the
 * spawner, each starting with `<token> <role>\n` (role ctl, in, out, err); the control connection adds the request
 * as one JSON line. The spawner hands the in/out/err connections to git as its stdin/stdout/stderr (the fds
 * themselves: no copying through the spawner), closes its own copies, and answers `started <pid>` on the control
 * connection, then `{"exit":code,"signal":sig}` (or `{"error":…}`); `kill <signal>` on the control connection
 * signals git, and a control connection closed early kills it. Nothing is written to stdin before `started`, so
 * the spawner never reads a byte meant for git.
 *
 * Where no spawner runs (CLI, unit tests) or it cannot be reached (it died), `spawnGit` spawns directly: the same
 * streams and events either way (stdin, stdout, stderr, kill, 'exit', 'close', 'error'). A spawner that dies is
 * started again on the same socket path after a second (at most three times a minute).
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Logger } from '../common/log.ts';

/** the env variable that tells every thread of this process where the spawner listens */
const SOCKET_ENV = 'PICLOUD_SPAWNER_SOCKET';

export interface GitSpawnOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
}

/** What callers use of a git child process, the same whether the spawner or this process started it. */
export interface GitProcess extends EventEmitter {
  readonly stdin: NodeJS.WritableStream & { on(e: 'error', f: (e: Error) => void): unknown };
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** git's process id (once started) */
  readonly pid?: number | undefined;
  kill(signal?: NodeJS.Signals): void;
}

/** Start `git <args>`: through the spawner when this process runs one, else directly. */
export function spawnGit(args: string[], opts: GitSpawnOptions): GitProcess {
  const socket = process.env[SOCKET_ENV];
  return socket ? new SpawnedGit(socket, args, opts) : forkGit(args, opts);
}

/** git forked from this process (no spawner, or none reachable) */
const forkGit = (args: string[], opts: GitSpawnOptions) => spawnChild('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });

const ROLES = ['ctl', 'in', 'out', 'err'] as const;

/** A git process the spawner started, or (the spawner unreachable) this process. */
class SpawnedGit extends EventEmitter implements GitProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly socks = new Map<(typeof ROLES)[number], Socket>();
  private child: ChildProcess | null = null;
  private started = false;
  private done = false;
  private exit: [number | null, NodeJS.Signals | null] | null = null;
  private open = 2; // stdout and stderr until they end
  private pendingKill: NodeJS.Signals | null = null;
  private startedPid: number | undefined;

  constructor(socketPath: string, private readonly args: string[], private readonly opts: GitSpawnOptions) {
    super();
    const token = randomBytes(12).toString('hex');
    const req = JSON.stringify({ args, cwd: opts.cwd ?? null, env: opts.env });
    for (const role of ROLES) {
      const s = connect(socketPath);
      this.socks.set(role, s);
      s.on('error', (err) => this.onSocketError(err));
      s.write(role === 'ctl' ? `${token} ${role}\n${req}\n` : `${token} ${role}\n`);
    }
    const ctl = this.socks.get('ctl')!;
    let buf = '';
    ctl.setEncoding('utf8');
    ctl.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onControl(line);
      }
    });
    ctl.on('close', () => {
      // the spawner went away before git's exit reached us: report what we know
      if (!this.exit && this.started) this.onExit(null, 'SIGKILL');
    });
    const out = this.socks.get('out')!;
    const err = this.socks.get('err')!;
    out.pipe(this.stdout);
    err.pipe(this.stderr);
    this.stdout.on('end', () => this.streamEnded());
    this.stderr.on('end', () => this.streamEnded());
  }

  get pid(): number | undefined {
    return this.child ? this.child.pid : this.startedPid;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child) {
      this.child.kill(signal);
      return;
    }
    if (this.exit) return;
    if (!this.started) {
      this.pendingKill = signal;
      return;
    }
    this.socks.get('ctl')!.write(`kill ${signal}\n`);
  }

  private onControl(line: string): void {
    if (line.startsWith('started ')) {
      this.started = true;
      this.startedPid = Number(line.slice(8));
      const stdin = this.socks.get('in')!;
      this.stdin.pipe(stdin);
      if (this.pendingKill) this.kill(this.pendingKill);
      return;
    }
    const m = JSON.parse(line) as { exit?: number | null; signal?: NodeJS.Signals | null; error?: string; code?: string };
    if (m.error !== undefined) this.onError(Object.assign(new Error(m.error), { code: m.code }));
    else this.onExit(m.exit ?? null, m.signal ?? null);
  }

  /** git did not start (not found, cwd missing) */
  private onError(e: Error): void {
    this.finish();
    this.emit('error', e);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = [code, signal];
    this.emit('exit', code, signal);
    // git has exited: whatever it wrote is in the sockets; stdin's side is of no use any more
    this.socks.get('in')?.destroy();
    this.flush();
    this.maybeClose();
  }

  /** As a child process does at its exit: output nobody reads is drained, so 'close' still comes. */
  private flush(): void {
    for (const s of [this.stdout, this.stderr]) if (s.readableFlowing === null) s.resume();
  }

  private streamEnded(): void {
    this.open--;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.done || !this.exit || this.open > 0) return;
    this.finish();
    this.emit('close', this.exit[0], this.exit[1]);
  }

  private finish(): void {
    this.done = true;
    for (const s of this.socks.values()) s.destroy();
  }

  /** The spawner cannot be reached (it died, or its socket is gone): run git here, on the same streams. */
  private onSocketError(err: Error): void {
    if (this.started || this.child || this.done) {
      // after the start: a broken stdin (git stopped reading) is the caller's stdin error, as with a child
      if (this.started && !this.done && this.stdin.listenerCount('error') > 0) this.stdin.emit('error', err);
      return;
    }
    for (const s of this.socks.values()) {
      s.unpipe();
      s.destroy();
    }
    const child = forkGit(this.args, this.opts);
    this.child = child;
    child.stdin.on('error', (e) => {
      if (this.stdin.listenerCount('error') > 0) this.stdin.emit('error', e);
    });
    this.stdin.pipe(child.stdin);
    child.stdout.pipe(this.stdout);
    child.stderr.pipe(this.stderr);
    child.on('error', (e) => this.onError(e));
    child.on('exit', (code, signal) => this.onExit(code, signal));
    if (this.pendingKill) child.kill(this.pendingKill);
  }
}

/**
 * The spawner itself, a Perl program run with `perl -e` (no file: the same from src/ under tsx and from dist/).
 * Perl rather than Node: git itself depends on perl (Debian's git package), so it is wherever git is, and the
 * spawner's fork copies a ~10 MB process instead of a ~43 MB one (measured with bench:idle: 10–11 MB RSS, 8–9 MB PSS
 * against Node's 43 MB RSS, 13–15 MB PSS). Core modules only (IO::Socket::UNIX, IO::Select, POSIX, JSON::PP).
 * argv: the socket path. It exits when its stdin (a pipe from the platform) ends, so it never outlives it; SIGCHLD
 * wakes its select loop through a pipe of its own. A git that cannot start (not on PATH, cwd missing) is reported
 * from the forked child to the spawner through a close-on-exec pipe, with its errno's name as `code`.
 */
const SPAWNER_PL = String.raw`
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use POSIX qw(WNOHANG WIFSIGNALED WTERMSIG WEXITSTATUS);
use JSON::PP;
use Config;
$0 = 'picloud-git-spawner';
$SIG{PIPE} = 'IGNORE';
$| = 1;
my @signame = split ' ', $Config{sig_name};
my $json = JSON::PP->new->utf8;
my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 128) or die "picloud-git-spawner: listen: $!\n";
pipe(my $wake_r, my $wake_w) or die "pipe: $!\n";
$wake_w->blocking(0);
$SIG{CHLD} = sub { syswrite($wake_w, 'c') };
my $sel = IO::Select->new($srv, \*STDIN, $wake_r);
my (%head, %pending, %run, %ctlpid);
print "ready\n";

sub errname { my ($n) = @_; local $! = $n; for (keys %!) { return $_ if $!{$_} } 'EUNKNOWN' }
sub answer_end { my ($ctl, $m) = @_; syswrite($ctl, $json->encode($m) . "\n"); close $ctl }

sub start {
  my ($p) = @_;
  my ($ctl, $req) = @$p{qw(ctl req)};
  my @io = @$p{qw(in out err)};
  if (ref $req ne 'HASH') { answer_end($ctl, { error => 'bad spawn request' }); close $_ for @io; return }
  pipe(my $er, my $ew) or do { answer_end($ctl, { error => "pipe: $!", code => errname($! + 0) }); close $_ for @io; return };
  my $pid = fork;
  if (!defined $pid) { my $e = $! + 0; answer_end($ctl, { error => "spawn git: $!", code => errname($e) }); close $_ for @io, $er, $ew; return }
  if ($pid == 0) {
    $SIG{PIPE} = 'DEFAULT';
    $SIG{CHLD} = 'DEFAULT';
    close $er;
    # the request's strings are characters (decoded UTF-8): git gets them as UTF-8 bytes, as Node would pass them
    my %env = map { my $s = $_; utf8::encode($s); $s } %{ $req->{env} || {} };
    my @args = map { my $s = $_; utf8::encode($s); $s } @{ $req->{args} || [] };
    my $cwd = $req->{cwd};
    utf8::encode($cwd) if defined $cwd;
    if (!defined $cwd || chdir $cwd) {
      %ENV = %env;
      POSIX::dup2(fileno $io[$_], $_) for 0 .. 2;
      exec { 'git' } 'git', @args;
    }
    syswrite($ew, $! + 0);
    POSIX::_exit(127);
  }
  close $_ for @io, $ew;
  my $got = '';
  while (1) {
    my $n = sysread($er, my $b, 64);
    if (!defined $n) { next if $!{EINTR}; last }
    last if $n == 0;
    $got .= $b;
  }
  close $er;
  if ($got ne '') {
    waitpid($pid, 0);
    my $code = errname($got);
    answer_end($ctl, { error => "spawn git $code", code => $code });
    return;
  }
  syswrite($ctl, "started $pid\n");
  $run{$pid} = { ctl => $ctl, buf => '' };
  $ctlpid{ fileno $ctl } = $pid;
  $sel->add($ctl);
}

sub header {
  my ($fh) = @_;
  my $h = $head{ fileno $fh };
  my $n = sysread($fh, my $b, 65536);
  return if !defined $n && $!{EINTR};
  if (!$n) { $sel->remove($fh); delete $head{ fileno $fh }; close $fh; return }
  $h->{buf} .= $b;
  my $nl = index($h->{buf}, "\n");
  return if $nl < 0;
  my ($token, $role) = split / /, substr($h->{buf}, 0, $nl);
  my $req;
  if (($role // '') eq 'ctl') {
    my $nl2 = index($h->{buf}, "\n", $nl + 1);
    return if $nl2 < 0;
    $req = eval { $json->decode(substr($h->{buf}, $nl + 1, $nl2 - $nl - 1)) };
  }
  $sel->remove($fh);
  delete $head{ fileno $fh };
  if (!defined $token || !defined $role || $role !~ /^(ctl|in|out|err)$/) { close $fh; return }
  my $p = $pending{$token} //= {};
  $p->{$role} = $fh;
  $p->{req} = $req if $role eq 'ctl';
  if ($p->{ctl} && $p->{in} && $p->{out} && $p->{err}) { delete $pending{$token}; start($p) }
}

sub control {
  my ($fh) = @_;
  my $pid = $ctlpid{ fileno $fh };
  my $r = $run{$pid};
  my $n = sysread($fh, my $b, 4096);
  return if !defined $n && $!{EINTR};
  if (!$n) {
    # the platform let go of this run before git's exit: git is of no use to anyone now
    $sel->remove($fh);
    delete $ctlpid{ fileno $fh };
    $r->{gone} = 1;
    kill 'KILL', $pid;
    return;
  }
  $r->{buf} .= $b;
  while ((my $i = index($r->{buf}, "\n")) >= 0) {
    my $line = substr($r->{buf}, 0, $i + 1, '');
    kill $1, $pid if $line =~ /^kill (?:SIG)?([A-Z0-9]+)\n/ && grep { $_ eq $1 } @signame;
  }
}

sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $st = $?;
    my $r = delete $run{$pid} or next;
    my $ctl = $r->{ctl};
    if ($r->{gone}) { close $ctl; next }
    $sel->remove($ctl);
    delete $ctlpid{ fileno $ctl };
    answer_end($ctl, WIFSIGNALED($st) ? { exit => undef, signal => 'SIG' . $signame[WTERMSIG($st)] } : { exit => WEXITSTATUS($st), signal => undef });
  }
}

while (1) {
  for my $fh ($sel->can_read) {
    my $fd = fileno $fh;
    if ($fh == $srv) {
      my $c = $srv->accept or next;
      $head{ fileno $c } = { buf => '' };
      $sel->add($c);
    } elsif ($fd == 0) {
      my $n = sysread(STDIN, my $b, 4096);
      exit 0 if !$n && !(!defined $n && $!{EINTR});
    } elsif ($fh == $wake_r) {
      sysread($wake_r, my $b, 512);
    } elsif (exists $head{$fd}) {
      header($fh);
    } elsif (exists $ctlpid{$fd}) {
      control($fh);
    }
  }
  reap();
}
`;

interface Running {
  /** null while a dead spawner waits for its restart */
  child: ChildProcess | null;
  dir: string;
  socket: string;
  users: number;
  log: Logger;
  /** when it was restarted (the last minute's) */
  restarts: number[];
}
let running: Running | null = null;

/** a spawner that dies is started again after this, at most RESTARTS_PER_MINUTE times a minute */
const RESTART_AFTER_MS = 1000;
const RESTARTS_PER_MINUTE = 3;

/** Start a spawner listening on `socket`; resolves it once it listens, or null. */
async function launch(socket: string): Promise<ChildProcess | null> {
  rmSync(socket, { force: true }); // a dead spawner's socket file
  const child = spawnChild('perl', ['-e', SPAWNER_PL, socket], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false)); // no perl
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(true);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    child.kill('SIGKILL');
    return null;
  }
  child.stdout!.resume();
  child.stdin!.on('error', () => {});
  // the spawner never keeps this process alive by itself
  child.unref();
  for (const s of [child.stdin, child.stdout]) (s as unknown as { unref(): void }).unref();
  return child;
}

/**
 * A spawner that exits unasked is started again on the same socket path (threads keep the path they were given);
 * meanwhile, and for good after RESTARTS_PER_MINUTE restarts within a minute, git runs are spawned directly.
 */
function watch(r: Running, child: ChildProcess): void {
  child.once('exit', (code, signal) => {
    if (running !== r || r.child !== child) return;
    r.child = null;
    const now = Date.now();
    r.restarts = r.restarts.filter((t) => now - t < 60_000);
    if (r.restarts.length >= RESTARTS_PER_MINUTE) {
      r.log.warn({ code, signal }, 'the git spawner keeps exiting; git runs are forked from the platform process from now on');
      delete process.env[SOCKET_ENV];
      return;
    }
    r.log.warn({ code, signal }, 'the git spawner exited; starting it again (git runs are forked from the platform meanwhile)');
    r.restarts.push(now);
    setTimeout(() => {
      if (running !== r) return;
      void launch(r.socket).then((c) => {
        if (running !== r) {
          c?.kill();
          return;
        }
        if (!c) {
          r.log.warn('the git spawner did not start again; git runs are forked from the platform process from now on');
          delete process.env[SOCKET_ENV];
          return;
        }
        r.child = c;
        watch(r, c);
      });
    }, RESTART_AFTER_MS).unref();
  });
}

/**
 * Start this process's spawner (once; later calls share it) and point every thread created from now on at it.
 * Resolves false (and git is spawned directly) when it could not start. Call early: the spawner's own fork is the
 * last one of the platform's address space.
 */
export async function startSpawner(log: Logger): Promise<boolean> {
  if (running) {
    running.users++;
    return true;
  }
  let dir: string;
  try {
    dir = mkdtempSync(path.join(tmpdir(), 'picloud-spawn-'));
  } catch (err) {
    log.warn({ err }, 'no private directory for the git spawner; git runs are forked from the platform process');
    return false;
  }
  const socket = path.join(dir, 's');
  const child = await launch(socket).catch(() => null);
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    log.warn('the git spawner (perl) did not start; git runs are forked from the platform process');
    return false;
  }
  running = { child, dir, socket, users: 1, log, restarts: [] };
  process.env[SOCKET_ENV] = socket;
  watch(running, child);
  return true;
}

/** The spawner's process id while it runs (tests). */
export function spawnerPid(): number | undefined {
  return running?.child?.pid;
}

/** Release one user of the spawner; the last one stops it. */
export function stopSpawner(): void {
  if (!running || --running.users > 0) return;
  const { child, dir } = running;
  running = null;
  delete process.env[SOCKET_ENV];
  child?.stdin!.end();
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
}
