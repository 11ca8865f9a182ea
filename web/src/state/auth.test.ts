import { describe, expect, it } from 'vitest';
import type { FetchFn } from './api';
import { LocalAccountAuth } from './auth';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function tokenFor(sub: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256' })}.${encode({ sub })}.sig`;
}

describe('local accounts', () => {
  it('signs up, then logs in and keeps the access token in memory', async () => {
    const calls: Array<{ url: string; body: unknown }> = [];
    const fetchFn: FetchFn = async (url, init) => {
      calls.push({ url, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      if (url === '/api/auth/signup') return new Response('', { status: 201 });
      return jsonResponse(200, { accessToken: tokenFor('u1'), expiresIn: 600 });
    };
    const auth = new LocalAccountAuth(fetchFn, () => 1000);
    await auth.signUp('ada', 'long password', ' Ada ');
    await auth.logIn('ada', 'long password');
    expect(calls.map((call) => call.url)).toEqual(['/api/auth/signup', '/api/auth/login']);
    expect(calls[0].body).toEqual({ username: 'ada', password: 'long password', name: 'Ada' });
    expect(auth.identity()?.id).toBe('u1');
    expect(auth.expiresAt).toBe(1000 + 600_000);
  });

  it('reports a failed login with its status', async () => {
    const auth = new LocalAccountAuth(async () => new Response('invalid username or password', { status: 401 }));
    await expect(auth.logIn('ada', 'nope')).rejects.toThrow('signing in failed with HTTP 401: invalid username or password');
    expect(auth.token()).toBeNull();
  });

  it('renews the token with the refresh cookie, once for concurrent callers', async () => {
    let refreshCalls = 0;
    const auth = new LocalAccountAuth(async (url) => {
      if (url === '/api/auth/refresh') refreshCalls += 1;
      return jsonResponse(200, { accessToken: tokenFor('u2'), expiresIn: 60 });
    });
    const results = await Promise.all([auth.refresh(), auth.refresh()]);
    expect(results).toEqual([true, true]);
    expect(refreshCalls).toBe(1);
    expect(auth.identity()?.id).toBe('u2');
  });

  it('reports a missing refresh cookie as signed out', async () => {
    const auth = new LocalAccountAuth(async () => new Response('missing refresh token', { status: 401 }));
    expect(await auth.refresh()).toBe(false);
    expect(auth.token()).toBeNull();
  });

  it('revokes the refresh token on sign-out', async () => {
    const urls: string[] = [];
    const auth = new LocalAccountAuth(async (url) => {
      urls.push(url);
      return url === '/api/auth/logout' ? new Response(null, { status: 204 }) : jsonResponse(200, { accessToken: tokenFor('u3'), expiresIn: 60 });
    });
    await auth.logIn('u3', 'password123');
    await auth.signOut();
    expect(urls).toContain('/api/auth/logout');
    expect(auth.token()).toBeNull();
  });
});
