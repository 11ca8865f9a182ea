#!/usr/bin/env node
// Runs the end-to-end specs against the development mock server: starts the mock on a
// free loopback port with a random TEST_JWT_SECRET (so every test gets its own user),
// serves web/dist (run `npm run build` first), runs the specs, then stops the mock.
// A second pass runs the local-account spec against a mock in local sign-in mode.
// Extra arguments go to Vitest, for example a spec file name.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(path.join(webDir, 'dist', 'index.html'))) {
  console.error('run-against-mock: web/dist/index.html is missing; run `npm run build` first');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mock server at ${url} did not become healthy within ${timeoutMs} ms`);
}

/** Starts a mock server in `authMode`, runs Vitest with `args` against it, returns the exit code. */
async function runPass(authMode, args) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = randomBytes(24).toString('hex');
  const env = { ...process.env, TEST_JWT_SECRET: secret, PRISM_URL: url, MOCK_AUTH_MODE: authMode };
  const mock = spawn(process.execPath, [path.join(webDir, 'e2e', 'mock-server.mjs'), '--port', String(port)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitForHealth(url, 10_000);
    const vitest = spawn(
      process.execPath,
      [path.join(webDir, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.e2e.config.ts', ...args],
      { cwd: webDir, env, stdio: 'inherit' },
    );
    return await new Promise((resolve) => vitest.on('exit', (code) => resolve(code ?? 1)));
  } catch (error) {
    console.error('run-against-mock:', error.message);
    return 1;
  } finally {
    mock.kill('SIGTERM');
  }
}

const extraArgs = process.argv.slice(2);
let exitCode = await runPass('test', extraArgs);
if (extraArgs.length === 0 || extraArgs.some((arg) => arg.includes('local-auth'))) {
  const localCode = await runPass('local', ['local-auth']);
  if (exitCode === 0) exitCode = localCode;
}
process.exit(exitCode);
