#!/usr/bin/env node
// A development-only, in-memory stand-in for the Prism Plan back end, used to run the
// web app and its end-to-end tests before the real server is ready. It implements the
// parts of the HTTP contract that the web app calls, the live stream included, and
// serves web/dist on the same origin. It is not a reference implementation.
//
// Usage: node e2e/mock-server.mjs [--port 8787] [--host 127.0.0.1]
// Environment: TEST_JWT_SECRET (verify HS256 tokens; without it the token's `sub` is
// trusted unverified), MOCK_AUTH_MODE=test|local|none (local adds the account endpoints
// and signs its access tokens with TEST_JWT_SECRET; none returns 404 for
// /api/auth/config), MOCK_PROJECTION_DELAY_MS (delay between 202 and the read model
// change, default 5).
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const distDir = path.resolve(here, '..', 'dist');
const CATEGORIES = ['critical', 'fun', 'important', 'normal'];
const MAX_BODY_BYTES = 64 * 1024;
const KEEP_ALIVE_MS = 15_000;
const MAX_LOG_PER_USER = 5000;

function parseArgs(argv) {
  const options = { port: 8787, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--port') options.port = Number(argv[++i]);
    else if (argv[i] === '--host') options.host = argv[++i];
  }
  return options;
}

const secret = process.env.TEST_JWT_SECRET ? new TextEncoder().encode(process.env.TEST_JWT_SECRET) : null;
const authMode = process.env.MOCK_AUTH_MODE ?? 'test';
const projectionDelayMs = Number(process.env.MOCK_PROJECTION_DELAY_MS ?? 5);

const ACCESS_TOKEN_SECONDS = 300;
const REFRESH_COOKIE = 'prism_refresh';

let nextPosition = 1;
/** Local accounts by lower-cased username. The mock keeps passwords in memory as given. */
const accounts = new Map();
/** Refresh token → lower-cased username. */
const refreshTokens = new Map();
/** @type {Map<string, ReturnType<typeof newUser>>} */
const users = new Map();
/** Responses to return instead of handling the next POST /api/commands (fault injection). */
const injectedCommandFaults = [];

function newUser() {
  return {
    tasks: new Map(),
    order: [],
    settings: { tasksPerCategory: 3, showDoneTasks: false },
    keys: new Set(),
    log: [],
    streams: new Set(),
  };
}

function userState(id) {
  let user = users.get(id);
  if (!user) {
    user = newUser();
    users.set(id, user);
  }
  return user;
}

async function authenticate(req, url) {
  const header = req.headers.authorization ?? '';
  let token = header.startsWith('Bearer ') ? header.slice(7) : null;
  if (!token && url.pathname === '/stream') token = url.searchParams.get('token');
  if (!token) return { error: 'missing token' };
  try {
    const claims = secret ? (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload : decodeJwt(token);
    if (typeof claims.sub !== 'string' || claims.sub === '') return { error: 'token has no sub' };
    return { userId: claims.sub };
  } catch (error) {
    return { error: `invalid token: ${error.message}` };
  }
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function wireTask(task) {
  const result = { id: task.id, title: task.title, category: task.category, order: task.order };
  if (task.notes) result.notes = task.notes;
  if (task.done) result.done = true;
  return result;
}

function encodePageToken(userId, index) {
  return Buffer.from(JSON.stringify({ u: userId, i: index })).toString('base64url');
}

function decodePageToken(userId, token) {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (parsed.u !== userId || !Number.isInteger(parsed.i) || parsed.i < 0) return null;
    return parsed.i;
  } catch {
    return null;
  }
}

function listTasks(userId, url, res) {
  const user = userState(userId);
  const sizeText = url.searchParams.get('pageSize');
  let pageSize = 10;
  if (sizeText !== null) {
    if (!/^\d+$/.test(sizeText) || Number(sizeText) < 1) return send(res, 400, { error: 'invalid page size' });
    pageSize = Math.min(1000, Number(sizeText));
  }
  let start = 0;
  const tokenText = url.searchParams.get('pageToken');
  if (tokenText) {
    const index = decodePageToken(userId, tokenText);
    if (index === null || index > user.order.length) return send(res, 400, { error: 'invalid page token' });
    start = index;
  }
  const ids = user.order.slice(start, start + pageSize);
  const body = { tasks: ids.map((id) => wireTask(user.tasks.get(id))) };
  if (start + pageSize < user.order.length) body.nextPageToken = encodePageToken(userId, start + pageSize);
  send(res, 200, body);
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isOrder = (value) => Number.isInteger(value) && value >= 0;

/** Returns an error detail for an invalid command, or null. */
function validateCommand(command) {
  if (!isObject(command)) return 'command is not a JSON object';
  for (const key of Object.keys(command)) {
    if (!['idempotencyKey', 'entityType', 'type', 'data'].includes(key)) return `unknown field ${key}`;
  }
  const data = command.data ?? {};
  if (!isObject(data)) return 'data must be an object';
  const checkTaskFields = () => {
    if (data.title !== undefined && (typeof data.title !== 'string' || data.title.trim().length < 1 || data.title.trim().length > 500))
      return 'data.title must be 1-500 characters after trimming';
    if (data.notes !== undefined && (typeof data.notes !== 'string' || data.notes.length > 10000)) return 'data.notes must be a string of at most 10000 characters';
    if (data.category !== undefined && !CATEGORIES.includes(data.category)) return 'data.category must be one of critical, fun, important, normal';
    if (data.order !== undefined && !isOrder(data.order)) return 'data.order must be an integer >= 0';
    if (data.done !== undefined && typeof data.done !== 'boolean') return 'data.done must be a boolean';
    return null;
  };
  switch (`${command.entityType}/${command.type}`) {
    case 'task/create-task':
      if (typeof data.title !== 'string') return 'missing data.title';
      return checkTaskFields();
    case 'task/update-task': {
      if (typeof data.id !== 'string') return 'missing data.id';
      const fields = ['title', 'notes', 'category', 'order', 'done'].filter((field) => data[field] !== undefined);
      if (fields.length === 0) return 'update-task needs at least one of title, notes, category, order, done';
      return checkTaskFields();
    }
    case 'task/complete-task':
    case 'task/reopen-task':
      return typeof data.id === 'string' ? null : 'missing data.id';
    case 'user/login-user':
    case 'user/logout-user':
      return null;
    case 'user-settings/update-user-settings': {
      const { tasksPerCategory, showDoneTasks } = data;
      if (tasksPerCategory === undefined && showDoneTasks === undefined) return 'update-user-settings needs tasksPerCategory or showDoneTasks';
      if (tasksPerCategory !== undefined && (!Number.isInteger(tasksPerCategory) || tasksPerCategory < 1 || tasksPerCategory > 1000))
        return 'data.tasksPerCategory must be an integer from 1 to 1000';
      if (showDoneTasks !== undefined && typeof showDoneTasks !== 'boolean') return 'data.showDoneTasks must be a boolean';
      return null;
    }
    default:
      return `unknown command ${command.entityType}/${command.type}`;
  }
}

function publish(user, message) {
  const entry = { position: nextPosition++, message };
  user.log.push(entry);
  if (user.log.length > MAX_LOG_PER_USER) user.log.shift();
  for (const stream of user.streams) writeEvent(stream, entry);
}

function writeEvent(res, entry) {
  res.write(`id: ${entry.position}\ndata: ${JSON.stringify(entry.message)}\n\n`);
}

/** Applies one accepted command to the read model; rejected commands change nothing. */
function applyCommand(user, command) {
  const data = command.data ?? {};
  if (command.entityType === 'user-settings') {
    if (data.tasksPerCategory !== undefined) user.settings.tasksPerCategory = data.tasksPerCategory;
    if (data.showDoneTasks !== undefined) user.settings.showDoneTasks = data.showDoneTasks;
    publish(user, { entityType: 'user-settings', data: { ...user.settings } });
    return;
  }
  if (command.entityType !== 'task') return;
  if (command.type === 'create-task') {
    const id = typeof data.id === 'string' ? data.id : crypto.randomUUID();
    if (user.tasks.has(id)) return;
    const category = data.category ?? 'normal';
    const order = data.order ?? [...user.tasks.values()].filter((t) => !t.done && t.category === category).length;
    const task = { id, title: data.title.trim(), notes: data.notes ?? '', category, order, done: false };
    user.tasks.set(id, task);
    user.order.push(id);
    publish(user, { entityType: 'task', data: [wireTask(task)] });
    return;
  }
  const task = user.tasks.get(data.id);
  if (!task) return;
  if (command.type === 'update-task') {
    for (const field of ['title', 'notes', 'category', 'order', 'done']) {
      if (data[field] !== undefined) task[field] = field === 'title' ? data.title.trim() : data[field];
    }
    if (data.category !== undefined && data.done === undefined) task.done = false;
  } else if (command.type === 'complete-task') {
    if (task.done) return;
    task.done = true;
  } else if (command.type === 'reopen-task') {
    if (!task.done) return;
    task.done = false;
  }
  publish(user, { entityType: 'task', data: [wireTask(task)] });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function postCommands(userId, req, res) {
  const fault = injectedCommandFaults.shift();
  if (fault) {
    req.resume();
    const headers = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
    return send(res, fault.status, { error: fault.error ?? `injected ${fault.status}` }, headers);
  }
  let text;
  try {
    text = await readBody(req);
  } catch (error) {
    return send(res, error.status ?? 400, { error: error.message });
  }
  let commands;
  try {
    commands = JSON.parse(text);
  } catch {
    return send(res, 400, { error: 'invalid body' });
  }
  if (!Array.isArray(commands)) return send(res, 400, { error: 'invalid body' });
  for (let i = 0; i < commands.length; i += 1) {
    const issue = validateCommand(commands[i]);
    if (issue) return send(res, 400, { error: `command ${i}: ${issue}` });
  }
  const user = userState(userId);
  const keys = commands.map((command) => command.idempotencyKey ?? crypto.randomUUID());
  const fresh = commands.filter((_, i) => !user.keys.has(keys[i]));
  for (const key of keys) user.keys.add(key);
  setTimeout(() => {
    for (const command of fresh) applyCommand(user, command);
  }, projectionDelayMs);
  send(res, 202, { idempotencyKeys: keys });
}

function openStream(userId, req, res, url) {
  const user = userState(userId);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  const lastIdText = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId');
  const lastId = lastIdText && /^\d+$/.test(lastIdText) ? Number(lastIdText) : null;
  const oldest = user.log.length > 0 ? user.log[0].position : nextPosition;
  if (lastId !== null && lastId >= oldest - 1) {
    for (const entry of user.log) if (entry.position > lastId) writeEvent(res, entry);
  } else {
    const position = nextPosition - 1;
    const tasks = user.order.map((id) => wireTask(user.tasks.get(id)));
    writeEvent(res, { position, message: { entityType: 'task', data: tasks } });
    writeEvent(res, { position, message: { entityType: 'user-settings', data: { ...user.settings } } });
  }
  user.streams.add(res);
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  req.on('close', () => {
    clearInterval(keepAlive);
    user.streams.delete(res);
  });
}

async function issueAccessToken(account) {
  if (!secret) throw new Error('MOCK_AUTH_MODE=local needs TEST_JWT_SECRET');
  return new SignJWT({ name: account.name })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(`local-${account.username.toLowerCase()}`)
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
    .sign(secret);
}

function cookieValue(req, name) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

async function handleLocalAuth(route, req, res) {
  if (route === 'POST /api/auth/signup') {
    const body = JSON.parse((await readBody(req)) || '{}');
    if (typeof body.username !== 'string' || body.username.trim() === '') return send(res, 400, { error: 'missing username' });
    if (typeof body.password !== 'string' || body.password.length < 10) return send(res, 400, { error: 'password must be at least 10 characters' });
    const key = body.username.toLowerCase();
    if (accounts.has(key)) return send(res, 409, { error: 'username already taken' });
    accounts.set(key, { username: body.username, password: body.password, name: body.name ?? body.username });
    return send(res, 201, { username: body.username });
  }
  if (route === 'POST /api/auth/login') {
    const body = JSON.parse((await readBody(req)) || '{}');
    const account = accounts.get(String(body.username ?? '').toLowerCase());
    if (!account || account.password !== body.password) return send(res, 401, { error: 'invalid username or password' });
    const refresh = randomBytes(24).toString('base64url');
    refreshTokens.set(refresh, account.username.toLowerCase());
    return send(res, 200, { accessToken: await issueAccessToken(account), expiresIn: ACCESS_TOKEN_SECONDS }, {
      'Set-Cookie': `${REFRESH_COOKIE}=${refresh}; HttpOnly; SameSite=Strict; Path=/api/auth`,
    });
  }
  if (route === 'POST /api/auth/refresh') {
    req.resume();
    const username = refreshTokens.get(cookieValue(req, REFRESH_COOKIE) ?? '');
    const account = username ? accounts.get(username) : undefined;
    if (!account) return send(res, 401, { error: 'missing or revoked refresh token' });
    return send(res, 200, { accessToken: await issueAccessToken(account), expiresIn: ACCESS_TOKEN_SECONDS });
  }
  if (route === 'POST /api/auth/logout') {
    req.resume();
    refreshTokens.delete(cookieValue(req, REFRESH_COOKIE) ?? '');
    return send(res, 204, '', { 'Set-Cookie': `${REFRESH_COOKIE}=; HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age=0` });
  }
  return null;
}

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function serveStatic(url, res) {
  const relative = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  let file = path.resolve(distDir, relative || 'index.html');
  if (!file.startsWith(distDir) || !existsSync(file) || statSync(file).isDirectory()) {
    file = path.join(distDir, 'index.html');
  }
  if (!existsSync(file)) return send(res, 404, 'web/dist is missing: run npm run build first');
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Cache-Control': file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  createReadStream(file).pipe(res);
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://mock.invalid');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /healthz') return send(res, 200, 'ok');
  if (route === 'GET /api/auth/config') {
    if (authMode === 'none') return send(res, 404, { error: 'not found' });
    if (authMode === 'local') return send(res, 200, { mode: 'local', signup: true });
    return send(res, 200, { mode: 'test', signup: false });
  }
  if (authMode === 'local' && url.pathname.startsWith('/api/auth/')) {
    const handled = await handleLocalAuth(route, req, res);
    if (handled !== null) return handled;
  }
  if (route === 'POST /__mock/command-faults') {
    const body = JSON.parse((await readBody(req)) || '[]');
    injectedCommandFaults.push(...body);
    return send(res, 204, '');
  }
  if (url.pathname.startsWith('/api/') || url.pathname === '/stream') {
    const auth = await authenticate(req, url);
    if (auth.error) return send(res, 401, { error: auth.error });
    if (route === 'GET /api/tasks') return listTasks(auth.userId, url, res);
    if (route === 'GET /api/settings') return send(res, 200, userState(auth.userId).settings);
    if (route === 'POST /api/commands') return postCommands(auth.userId, req, res);
    if (route === 'GET /stream') return openStream(auth.userId, req, res, url);
    return send(res, 404, { error: `no route ${route}` });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
  return serveStatic(url, res);
}

const options = parseArgs(process.argv.slice(2));
const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error('mock-server: request failed', req.method, req.url, error);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
    else res.end();
  });
});
server.listen(options.port, options.host, () => {
  const address = server.address();
  console.log(`mock-server: listening on http://${address.address}:${address.port}`);
});
const shutdown = () => {
  for (const user of users.values()) for (const stream of user.streams) stream.end();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
