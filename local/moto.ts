import { type ChildProcess, spawn } from 'node:child_process';
import { findFreePort, LOCAL_HOST } from './ports';

/** Options for {@link startMoto}. */
export interface StartMotoOptions {
  /** TCP port on 127.0.0.1. Default: a free port chosen by the kernel. */
  port?: number;
  /** Executable to run, a name looked up on PATH or a path. Default: `moto_server`. */
  command?: string;
  /** Maximum time to wait until the server responds to HTTP requests, in ms. Default: 20000. */
  startTimeoutMs?: number;
  /** Receives each line that moto_server writes to stdout or stderr. Default: lines are dropped. */
  log?: (message: string) => void;
}

/** A running moto_server process. */
export interface MotoServer {
  /** Base URL that every AWS SDK client uses as its endpoint, e.g. `http://127.0.0.1:5000`. */
  endpoint: string;
  /** Process id of moto_server, which also leads its own process group. */
  pid: number;
  /** Stops the process group with SIGTERM, then SIGKILL after 5 s. Calling it again is a no-op. */
  stop(): Promise<void>;
}

/** Message of the error that {@link startMoto} throws when the executable is missing. */
export const MOTO_NOT_FOUND_MESSAGE =
  'moto_server was not found: install it with pip install "moto[server]"';

const POLL_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1000;
const STOP_GRACE_MS = 5000;
const STDERR_TAIL_CHARS = 4000;

/** Process group ids of servers that are still running, so an exiting parent can end them. */
const runningGroups = new Set<number>();
const forwardedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Starts `moto_server` on 127.0.0.1 and resolves once it responds to HTTP requests.
 *
 * moto_server runs in its own process group, so {@link MotoServer.stop} also ends any child it
 * spawned. The group is killed as well when this Node.js process exits or receives SIGINT,
 * SIGTERM or SIGHUP. Rejects with {@link MOTO_NOT_FOUND_MESSAGE} when the executable is missing,
 * and with the tail of its stderr when it exits or does not respond within `startTimeoutMs`.
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const command = options.command ?? 'moto_server';
  const port = options.port ?? (await findFreePort());
  const startTimeoutMs = options.startTimeoutMs ?? 20000;
  const log = options.log ?? (() => {});
  const endpoint = `http://${LOCAL_HOST}:${port}`;

  const child = spawn(command, ['-H', LOCAL_HOST, '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderrTail = '';
  forwardLines(child.stdout, log);
  forwardLines(child.stderr, (line) => {
    stderrTail = `${stderrTail}${line}\n`.slice(-STDERR_TAIL_CHARS);
    log(line);
  });
  const exited = waitForExit(child);

  const spawnError = await waitForSpawn(child);
  if (spawnError !== undefined) {
    if (spawnError.code === 'ENOENT') {
      throw new Error(`${MOTO_NOT_FOUND_MESSAGE} (command: ${command})`, { cause: spawnError });
    }
    throw new Error(`Failed to start ${command}: ${spawnError.message}`, { cause: spawnError });
  }
  const pid = child.pid as number;
  trackGroup(pid);
  log(`moto_server started with pid ${pid} on ${endpoint}`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopGroup(pid, exited).then(() => log(`moto_server stopped (pid ${pid})`));
    return stopping;
  };

  try {
    await waitUntilAnswering(endpoint, exited, startTimeoutMs);
  } catch (error) {
    await stop();
    const exit = await exited;
    // A pyenv shim or a shell wrapper exits with 127 when the command behind it is missing.
    if (exit.code === 127) {
      throw new Error(`${MOTO_NOT_FOUND_MESSAGE} (command: ${command})\n${stderrTail}`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`moto_server failed to start on ${endpoint}: ${reason}\n${stderrTail}`, {
      cause: error,
    });
  }
  return { endpoint, pid, stop };
}

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function waitForExit(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Resolves with the spawn error, or with undefined once the process is running. */
function waitForSpawn(child: ChildProcess): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error: NodeJS.ErrnoException) => resolve(error));
  });
}

function forwardLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) {
    return;
  }
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = `${pending}${chunk}`.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      onLine(line);
    }
  });
  stream.on('end', () => {
    if (pending !== '') {
      onLine(pending);
    }
  });
}

async function waitUntilAnswering(
  endpoint: string,
  exited: Promise<ExitStatus>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitStatus: ExitStatus | undefined;
  void exited.then((status) => {
    exitStatus = status;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitStatus !== undefined) {
      throw new Error(
        `moto_server exited with code ${exitStatus.code} and signal ${exitStatus.signal}`,
      );
    }
    try {
      // moto responds to GET / with the S3 ListBuckets XML, so any HTTP status means it is up.
      const response = await fetch(`${endpoint}/`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`timed out after ${timeoutMs} ms waiting for an HTTP response (${reason})`);
}

async function stopGroup(pid: number, exited: Promise<ExitStatus>): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => {
    setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref();
  });
  if ((await Promise.race([exited, timer])) === 'timeout') {
    signalGroup(pid, 'SIGKILL');
    await exited;
  }
  untrackGroup(pid);
}

/** Sends a signal to a process group and ignores a group that is already gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

function trackGroup(pid: number): void {
  if (runningGroups.size === 0) {
    process.on('exit', killAllGroups);
    for (const signal of forwardedSignals) {
      process.on(signal, onParentSignal);
    }
  }
  runningGroups.add(pid);
}

function untrackGroup(pid: number): void {
  runningGroups.delete(pid);
  if (runningGroups.size === 0) {
    process.off('exit', killAllGroups);
    for (const signal of forwardedSignals) {
      process.off(signal, onParentSignal);
    }
  }
}

/** Kills every tracked group synchronously, as an 'exit' listener must. */
function killAllGroups(): void {
  for (const pid of runningGroups) {
    signalGroup(pid, 'SIGKILL');
  }
}

/**
 * Kills the servers, unless another listener handles the signal, then lets the signal act as
 * if this module had never listened: a listener
 * disables Node.js's default of exiting on the signal, so the signal is raised again when no
 * other listener handles it.
 */
function onParentSignal(signal: NodeJS.Signals): void {
  // Another listener shuts down in order and stops the servers itself. The 'exit' listener
  // still kills whatever is left when the process ends.
  if (process.listenerCount(signal) > 1) return;
  killAllGroups();
  runningGroups.clear();
  process.off('exit', killAllGroups);
  for (const forwarded of forwardedSignals) {
    process.off(forwarded, onParentSignal);
  }
  if (process.listenerCount(signal) === 0) {
    process.kill(process.pid, signal);
  }
}
