// Sign-in: which mode the deployment uses (GET /api/auth/config) and where the access
// token comes from in each mode.
import { jwtDecode } from 'jwt-decode';
import { httpErrorOf, type FetchFn } from './api';
import type { KeyValueStorage } from './queue-storage';

export type AuthMode = 'local' | 'test' | 'oidc';

export interface AuthConfig {
  mode: AuthMode;
  signup: boolean;
  issuer?: string;
  clientId?: string;
  audience?: string;
}

/** The signed-in user as the token's claims describe them; `id` is the `sub` claim. */
export interface UserIdentity {
  id: string;
  name?: string;
  email?: string;
}

export interface AuthClient {
  readonly mode: AuthMode;
  token(): string | null;
  identity(): UserIdentity | null;
  /** Renews the access token; returns false when the user must sign in again. */
  refresh(): Promise<boolean>;
  /** Forgets the token (and, in local mode, revokes the refresh cookie). */
  signOut(): Promise<void>;
}

export const TOKEN_STORAGE_KEY = 'prism.token';

/**
 * Fetches the deployment's sign-in mode. A 404 means a back end without that endpoint,
 * which is treated as test mode.
 */
export async function fetchAuthConfig(fetchFn: FetchFn): Promise<AuthConfig> {
  const response = await fetchFn('/api/auth/config', { headers: { Accept: 'application/json' } });
  if (response.status === 404) return { mode: 'test', signup: false };
  if (!response.ok) throw await httpErrorOf(response, 'loading the sign-in configuration');
  const body = (await response.json()) as Partial<AuthConfig>;
  const mode: AuthMode = body.mode === 'local' || body.mode === 'oidc' ? body.mode : 'test';
  return {
    mode,
    signup: body.signup === true,
    issuer: typeof body.issuer === 'string' ? body.issuer : undefined,
    clientId: typeof body.clientId === 'string' ? body.clientId : undefined,
    audience: typeof body.audience === 'string' ? body.audience : undefined,
  };
}

/** Reads `sub`, `name` and `email` from a JWT without checking it (the server checks it). */
export function identityFromToken(token: string): UserIdentity | null {
  try {
    const claims = jwtDecode<{ sub?: unknown; name?: unknown; email?: unknown }>(token);
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    return {
      id: claims.sub,
      name: typeof claims.name === 'string' ? claims.name : undefined,
      email: typeof claims.email === 'string' ? claims.email : undefined,
    };
  } catch {
    return null;
  }
}

/**
 * Test mode: the token is a test-signed JWT that tests inject through localStorage
 * (`prism.token`) or a `?token=` URL parameter, which is moved to localStorage and
 * removed from the address bar.
 */
export class TestTokenAuth implements AuthClient {
  readonly mode = 'test' as const;

  constructor(private readonly storage: KeyValueStorage) {}

  /** Stores a `token` URL parameter and returns the URL without it (or null when absent). */
  takeTokenFromUrl(url: string): string | null {
    const parsed = new URL(url);
    const token = parsed.searchParams.get('token');
    if (token === null) return null;
    if (token !== '') this.storage.setItem(TOKEN_STORAGE_KEY, token);
    parsed.searchParams.delete('token');
    return parsed.toString();
  }

  setToken(token: string): void {
    this.storage.setItem(TOKEN_STORAGE_KEY, token.trim());
  }

  token(): string | null {
    const token = this.storage.getItem(TOKEN_STORAGE_KEY);
    return token && token.trim() !== '' ? token : null;
  }

  identity(): UserIdentity | null {
    const token = this.token();
    return token ? identityFromToken(token) : null;
  }

  async refresh(): Promise<boolean> {
    // A test token cannot be renewed; a 401 means the user must paste a new one.
    return false;
  }

  async signOut(): Promise<void> {
    this.storage.removeItem(TOKEN_STORAGE_KEY);
  }
}

interface TokenResponse {
  accessToken: string;
  expiresIn: number;
}

/**
 * Local accounts: the server issues short-lived access tokens, kept in memory only, and
 * an HttpOnly refresh cookie that renews them (also after a reload).
 */
export class LocalAccountAuth implements AuthClient {
  readonly mode = 'local' as const;
  private accessToken: string | null = null;
  /** When the access token expires, in Unix milliseconds. */
  expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;

  constructor(
    private readonly fetchFn: FetchFn,
    private readonly now: () => number = () => Date.now(),
  ) {}

  token(): string | null {
    return this.accessToken;
  }

  identity(): UserIdentity | null {
    return this.accessToken ? identityFromToken(this.accessToken) : null;
  }

  async signUp(username: string, password: string, name?: string): Promise<void> {
    const body: Record<string, string> = { username, password };
    if (name && name.trim() !== '') body.name = name.trim();
    const response = await this.postJson('/api/auth/signup', body);
    if (response.status !== 201 && !response.ok) throw await httpErrorOf(response, 'signing up');
  }

  async logIn(username: string, password: string): Promise<void> {
    const response = await this.postJson('/api/auth/login', { username, password });
    if (!response.ok) throw await httpErrorOf(response, 'signing in');
    this.acceptTokens((await response.json()) as TokenResponse);
  }

  /** Renews the access token with the refresh cookie; concurrent callers share one request. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refreshOnce().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async signOut(): Promise<void> {
    this.accessToken = null;
    this.expiresAt = 0;
    try {
      await this.fetchFn('/api/auth/logout', { method: 'POST', credentials: 'same-origin' });
    } catch (error) {
      console.warn('prism: revoking the refresh token failed', error);
    }
  }

  private async refreshOnce(): Promise<boolean> {
    try {
      const response = await this.fetchFn('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' });
      if (!response.ok) {
        this.accessToken = null;
        return false;
      }
      this.acceptTokens((await response.json()) as TokenResponse);
      return true;
    } catch {
      return false;
    }
  }

  private acceptTokens(body: TokenResponse): void {
    if (typeof body.accessToken !== 'string' || body.accessToken === '') {
      throw new Error('signing in failed: the response has no accessToken');
    }
    this.accessToken = body.accessToken;
    const seconds = typeof body.expiresIn === 'number' && body.expiresIn > 0 ? body.expiresIn : 300;
    this.expiresAt = this.now() + seconds * 1000;
  }

  private postJson(path: string, body: unknown): Promise<Response> {
    return this.fetchFn(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
  }
}
