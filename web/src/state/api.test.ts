import { describe, expect, it } from 'vitest';
import { ApiClient, type FetchFn } from './api';
import { fetchAuthConfig, identityFromToken, TestTokenAuth, TOKEN_STORAGE_KEY } from './auth';
import { MemoryStorage } from './test-support';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function fakeToken(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}.signature`;
}

describe('loading tasks', () => {
  it('walks page tokens until none is returned', async () => {
    const urls: string[] = [];
    const fetchFn: FetchFn = async (url) => {
      urls.push(url);
      const page = new URL(url, 'http://x').searchParams.get('pageToken');
      if (!page) return jsonResponse(200, { tasks: [{ id: '1', title: 'a', category: 'fun', order: 0 }], nextPageToken: 'p2' });
      if (page === 'p2') return jsonResponse(200, { tasks: [{ id: '2', title: 'b', category: 'normal', order: 0, done: true }], nextPageToken: 'p3' });
      return jsonResponse(200, { tasks: [{ id: '3', title: 'c', category: 'normal', order: 1, notes: 'n' }] });
    };
    const api = new ApiClient({ token: () => 't', refresh: async () => false }, fetchFn);
    const tasks = await api.loadAllTasks();
    expect(tasks.map((t) => t.id)).toEqual(['1', '2', '3']);
    expect(tasks[1].done).toBe(true);
    expect(tasks[2].notes).toBe('n');
    expect(urls[0]).toBe('/api/tasks?pageSize=1000');
    expect(urls[1]).toBe('/api/tasks?pageSize=1000&pageToken=p2');
  });

  it('stops when a page token repeats', async () => {
    const fetchFn: FetchFn = async () => jsonResponse(200, { tasks: [], nextPageToken: 'same' });
    const api = new ApiClient({ token: () => 't', refresh: async () => false }, fetchFn);
    await expect(api.loadAllTasks()).rejects.toThrow(/returned twice/);
  });

  it('sends the bearer token', async () => {
    let header: string | null = null;
    const fetchFn: FetchFn = async (_url, init) => {
      header = new Headers(init?.headers).get('Authorization');
      return jsonResponse(200, { tasksPerCategory: 4 });
    };
    const api = new ApiClient({ token: () => 'abc', refresh: async () => false }, fetchFn);
    expect(await api.getSettings()).toEqual({ tasksPerCategory: 4, showDoneTasks: false });
    expect(header).toBe('Bearer abc');
  });

  it('renews the token once on 401', async () => {
    let token = 'old';
    const seen: string[] = [];
    const fetchFn: FetchFn = async (_url, init) => {
      const auth = new Headers(init?.headers).get('Authorization') ?? '';
      seen.push(auth);
      return auth === 'Bearer new' ? jsonResponse(200, {}) : new Response('expired', { status: 401 });
    };
    const api = new ApiClient({ token: () => token, refresh: async () => ((token = 'new'), true) }, fetchFn);
    await api.getSettings();
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
  });

  it('reports the status and message of a failed load', async () => {
    const fetchFn: FetchFn = async () => new Response('invalid page size', { status: 400 });
    const api = new ApiClient({ token: () => 't', refresh: async () => false }, fetchFn);
    await expect(api.loadAllTasks()).rejects.toThrow('loading tasks failed with HTTP 400: invalid page size');
  });

  it('turns a failed command request into a network error outcome', async () => {
    const fetchFn: FetchFn = async () => {
      throw new TypeError('Failed to fetch');
    };
    const api = new ApiClient({ token: () => 't', refresh: async () => false }, fetchFn);
    expect((await api.sendCommands([])).kind).toBe('network-error');
  });

  it('passes the command status and Retry-After through', async () => {
    const fetchFn: FetchFn = async () => new Response('busy', { status: 503, headers: { 'Retry-After': '2' } });
    const api = new ApiClient({ token: () => 't', refresh: async () => false }, fetchFn);
    expect(await api.sendCommands([])).toEqual({ kind: 'response', status: 503, body: 'busy', retryAfter: '2' });
  });
});

describe('sign-in configuration', () => {
  it('treats a 404 as test mode', async () => {
    const config = await fetchAuthConfig(async () => new Response('not found', { status: 404 }));
    expect(config).toEqual({ mode: 'test', signup: false });
  });

  it('reads local mode with sign-up', async () => {
    const config = await fetchAuthConfig(async () => jsonResponse(200, { mode: 'local', signup: true }));
    expect(config.mode).toBe('local');
    expect(config.signup).toBe(true);
  });

  it('fails on a server error', async () => {
    await expect(fetchAuthConfig(async () => new Response('down', { status: 503 }))).rejects.toThrow(/503/);
  });
});

describe('test-mode token', () => {
  it('moves a token from the URL into storage', () => {
    const storage = new MemoryStorage();
    const auth = new TestTokenAuth(storage);
    const cleaned = auth.takeTokenFromUrl('http://host/board?token=abc&x=1');
    expect(cleaned).toBe('http://host/board?x=1');
    expect(storage.getItem(TOKEN_STORAGE_KEY)).toBe('abc');
    expect(auth.token()).toBe('abc');
  });

  it('leaves a URL without a token alone', () => {
    expect(new TestTokenAuth(new MemoryStorage()).takeTokenFromUrl('http://host/')).toBeNull();
  });

  it('reads the user from the token claims', () => {
    const token = fakeToken({ sub: 'user-1', name: 'Ada', email: 'ada@example.com' });
    expect(identityFromToken(token)).toEqual({ id: 'user-1', name: 'Ada', email: 'ada@example.com' });
  });

  it('rejects a token without sub', () => {
    expect(identityFromToken(fakeToken({ name: 'x' }))).toBeNull();
    expect(identityFromToken('garbage')).toBeNull();
  });
});
