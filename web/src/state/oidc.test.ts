import { InMemoryWebStorage, User, type INavigator, type NavigateParams } from 'oidc-client-ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuthConfig } from './auth';
import { apiTokenOf, isSigninCallback, OidcAuth, oidcConfigProblem, userManagerSettings, withoutCallbackParams } from './oidc';

const CONFIG: AuthConfig = {
  mode: 'oidc',
  signup: false,
  issuer: 'http://127.0.0.1:9/',
  clientId: 'web-client',
  audience: 'https://api.example.test',
};

function memoryStorage() {
  return { user: new InMemoryWebStorage(), state: new InMemoryWebStorage() };
}

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'RS256', kid: 'k1' })}.${encode(claims)}.signature`;
}

function userWith(fields: {
  access_token: string;
  expires_at?: number;
  refresh_token?: string;
  profile?: Record<string, unknown>;
}): User {
  return new User({
    access_token: fields.access_token,
    refresh_token: fields.refresh_token,
    token_type: 'Bearer',
    expires_at: fields.expires_at,
    profile: { sub: 'from-id-token', iss: CONFIG.issuer!, aud: 'web-client', exp: 0, iat: 0, ...fields.profile },
  });
}

/** Records the URL that a sign-in redirect would open, in place of the browser. */
function recordingNavigator(): INavigator & { urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    prepare: async () => ({
      navigate: async (params: NavigateParams) => {
        urls.push(params.url);
        return { url: params.url };
      },
      close: () => {},
    }),
    callback: async () => {},
  };
}

describe('userManagerSettings', () => {
  it('maps the server configuration to a PKCE code flow', () => {
    const settings = userManagerSettings(CONFIG, 'https://plan.example.test', memoryStorage());
    expect(settings.authority).toBe('http://127.0.0.1:9/');
    expect(settings.client_id).toBe('web-client');
    expect(settings.response_type).toBe('code');
    expect(settings.redirect_uri).toBe('https://plan.example.test/');
    expect(settings.post_logout_redirect_uri).toBe('https://plan.example.test/');
    expect(settings.silent_redirect_uri).toBe('https://plan.example.test/');
    expect(settings.scope).toBe('openid profile email offline_access');
    expect(settings.extraQueryParams).toEqual({ audience: 'https://api.example.test' });
    expect(settings.automaticSilentRenew).toBe(false);
  });

  it('sends no audience parameter without an audience', () => {
    const settings = userManagerSettings({ ...CONFIG, audience: undefined }, 'http://127.0.0.1:8080/', memoryStorage());
    expect(settings.extraQueryParams).toEqual({});
    expect(settings.redirect_uri).toBe('http://127.0.0.1:8080/');
  });

  it('rejects a configuration without client id', () => {
    expect(() => userManagerSettings({ ...CONFIG, clientId: undefined }, 'http://a', memoryStorage())).toThrow(
      'client id (AUTH_CLIENT_ID)',
    );
  });
});

describe('oidcConfigProblem', () => {
  it('names each missing field', () => {
    expect(oidcConfigProblem(CONFIG)).toBeNull();
    const problem = oidcConfigProblem({ mode: 'oidc', signup: false });
    expect(problem).toContain('issuer (AUTH_ISSUER or AUTH0_DOMAIN)');
    expect(problem).toContain('client id (AUTH_CLIENT_ID)');
  });

  it('makes the client unavailable', () => {
    const auth = new OidcAuth({ ...CONFIG, issuer: undefined }, { origin: 'http://a', storage: memoryStorage() });
    expect(auth.available).toBe(false);
    expect(auth.problem).toContain('issuer');
    expect(auth.token()).toBeNull();
  });
});

describe('apiTokenOf', () => {
  const accessToken = jwt({ sub: 'u1', aud: CONFIG.audience });

  it('returns an unexpired JWT access token', () => {
    expect(apiTokenOf(userWith({ access_token: accessToken, expires_at: 2000 }), 1000)).toBe(accessToken);
  });

  it('returns null for an expired access token', () => {
    expect(apiTokenOf(userWith({ access_token: accessToken, expires_at: 1000 }), 1000)).toBeNull();
  });

  it('returns null for an opaque access token', () => {
    expect(apiTokenOf(userWith({ access_token: 'opaque-token-value', expires_at: 2000 }), 1000)).toBeNull();
  });

  it('returns null without a user', () => {
    expect(apiTokenOf(null, 1000)).toBeNull();
  });
});

describe('sign-in callback URLs', () => {
  it('recognises a code or error response with state', () => {
    expect(isSigninCallback('http://a/?code=c&state=s')).toBe(true);
    expect(isSigninCallback('http://a/?error=access_denied&state=s')).toBe(true);
    expect(isSigninCallback('http://a/?code=c')).toBe(false);
    expect(isSigninCallback('http://a/?token=t')).toBe(false);
  });

  it('removes only the callback parameters', () => {
    expect(withoutCallbackParams('http://a/board?code=c&state=s&iss=x&keep=1#h')).toBe('http://a/board?keep=1#h');
  });
});

describe('OidcAuth', () => {
  // Loopback URLs on the discard port, so that a request the test did not expect fails at once.
  const metadata = {
    issuer: CONFIG.issuer,
    authorization_endpoint: 'http://127.0.0.1:9/authorize',
    token_endpoint: 'http://127.0.0.1:9/oauth/token',
    jwks_uri: 'http://127.0.0.1:9/.well-known/jwks.json',
  };

  it('redirects with PKCE, the client id and the audience', async () => {
    const navigator = recordingNavigator();
    const storage = memoryStorage();
    const auth = new OidcAuth(CONFIG, { origin: 'https://plan.example.test', storage, metadata, redirectNavigator: navigator });
    await auth.signIn();

    expect(navigator.urls).toHaveLength(1);
    const url = new URL(navigator.urls[0]);
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:9/authorize');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe('web-client');
    expect(url.searchParams.get('redirect_uri')).toBe('https://plan.example.test/');
    expect(url.searchParams.get('audience')).toBe('https://api.example.test');
    expect(url.searchParams.get('scope')).toBe('openid profile email offline_access');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The PKCE verifier waits in the state store for the callback.
    expect(storage.state.length).toBe(1);
  });

  it('combines identity from both tokens', async () => {
    const storage = memoryStorage();
    const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage, now: () => 1_000_000 });
    const user = userWith({
      access_token: jwt({ sub: 'auth0|42', aud: CONFIG.audience }),
      expires_at: 2000,
      profile: { sub: 'auth0|42', name: 'Ada Lovelace', email: 'ada@example.test' },
    });
    await auth.manager!.storeUser(user);

    expect(await auth.start('http://a/')).toBeNull();
    expect(auth.identity()).toEqual({ id: 'auth0|42', name: 'Ada Lovelace', email: 'ada@example.test' });
    expect(auth.expiresAt).toBe(2_000_000);
  });

  it('signs out through the end-session endpoint', async () => {
    const navigator = recordingNavigator();
    const storage = memoryStorage();
    const auth = new OidcAuth(CONFIG, {
      origin: 'https://plan.example.test',
      storage,
      metadata: { ...metadata, end_session_endpoint: 'http://127.0.0.1:9/logout' },
      redirectNavigator: navigator,
      now: () => 1_000_000,
    });
    const user = userWith({ access_token: jwt({ sub: 'u1' }), expires_at: 2000 });
    user.id_token = 'id-token-value';
    await auth.manager!.storeUser(user);
    await auth.start('https://plan.example.test/');

    await auth.signOut();
    expect(auth.token()).toBeNull();
    expect(await auth.manager!.getUser()).toBeNull();
    expect(navigator.urls).toHaveLength(1);
    const url = new URL(navigator.urls[0]);
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:9/logout');
    expect(url.searchParams.get('id_token_hint')).toBe('id-token-value');
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe('https://plan.example.test/');
    expect(url.searchParams.has('audience')).toBe(false);
  });

  it('signs out locally without an end-session endpoint', async () => {
    const navigator = recordingNavigator();
    const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage: memoryStorage(), metadata, redirectNavigator: navigator });
    await auth.manager!.storeUser(userWith({ access_token: jwt({ sub: 'u1' }) }));

    await auth.signOut();
    expect(await auth.manager!.getUser()).toBeNull();
    expect(navigator.urls).toEqual([]);
  });

  it('reports a failed renewal and forgets the user', async () => {
    const storage = memoryStorage();
    const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage, metadata, now: () => 5_000_000 });
    // An expired user without a refresh token: renewal needs an iframe, which Node lacks.
    await auth.manager!.storeUser(userWith({ access_token: jwt({ sub: 'u1' }), expires_at: 10 }));

    await auth.start('http://a/');
    expect(auth.token()).toBeNull();
    expect(await auth.manager!.getUser()).toBeNull();
  });

  describe('with a refresh token', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
    });

    /** Stubs fetch with a token endpoint that counts refresh_token grants. */
    function stubTokenEndpoint(newAccessToken: string) {
      const grants: string[] = [];
      vi.stubGlobal('fetch', async (input: string | URL, init?: RequestInit) => {
        expect(String(input)).toBe(metadata.token_endpoint);
        const form = new URLSearchParams(String(init?.body));
        grants.push(`${form.get('grant_type')} ${form.get('refresh_token')} ${form.get('client_id')}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        const body = { access_token: newAccessToken, token_type: 'Bearer', expires_in: 300, refresh_token: 'rt-2' };
        return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
      });
      return grants;
    }

    it('renews an expired access token at start', async () => {
      const renewed = jwt({ sub: 'u1', aud: CONFIG.audience, n: 2 });
      const grants = stubTokenEndpoint(renewed);
      const storage = memoryStorage();
      const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage, metadata, now: () => Date.now() });
      await auth.manager!.storeUser(
        userWith({ access_token: jwt({ sub: 'u1', n: 1 }), expires_at: 10, refresh_token: 'rt-1', profile: { sub: 'u1' } }),
      );

      await auth.start('http://a/');
      expect(grants).toEqual(['refresh_token rt-1 web-client']);
      expect(auth.token()).toBe(renewed);
      expect((await auth.manager!.getUser())?.refresh_token).toBe('rt-2');
    });

    it('shares one renewal between concurrent callers', async () => {
      const grants = stubTokenEndpoint(jwt({ sub: 'u1', n: 3 }));
      const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage: memoryStorage(), metadata });
      await auth.manager!.storeUser(
        userWith({ access_token: jwt({ sub: 'u1' }), expires_at: 10, refresh_token: 'rt-1', profile: { sub: 'u1' } }),
      );

      const results = await Promise.all([auth.refresh(), auth.refresh(), auth.refresh()]);
      expect(results).toEqual([true, true, true]);
      expect(grants).toHaveLength(1);
    });
  });

  describe('sign-in callback', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
    });

    /** Starts a sign-in and returns the client, the state value, and the token requests seen. */
    async function startSignIn(accessToken: string) {
      const navigator = recordingNavigator();
      const auth = new OidcAuth(CONFIG, { origin: 'http://a', storage: memoryStorage(), metadata, redirectNavigator: navigator });
      await auth.signIn();
      const authorize = new URL(navigator.urls[0]);
      const forms: URLSearchParams[] = [];
      vi.stubGlobal('fetch', async (_input: string | URL, init?: RequestInit) => {
        forms.push(new URLSearchParams(String(init?.body)));
        const claims = { iss: CONFIG.issuer, aud: 'web-client', sub: 'u1', name: 'Ada', iat: 1, exp: 4_000_000_000 };
        const body = { access_token: accessToken, id_token: jwt(claims), token_type: 'Bearer', expires_in: 300 };
        return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
      });
      return { auth, state: authorize.searchParams.get('state')!, challenge: authorize.searchParams.get('code_challenge')!, forms };
    }

    it('exchanges the code with the PKCE verifier', async () => {
      const accessToken = jwt({ sub: 'u1', aud: CONFIG.audience, exp: 4_000_000_000 });
      const { auth, state, challenge, forms } = await startSignIn(accessToken);

      const cleaned = await auth.start(`http://a/?code=the-code&state=${state}`);
      expect(cleaned).toBe('http://a/');
      expect(forms).toHaveLength(1);
      expect(forms[0].get('grant_type')).toBe('authorization_code');
      expect(forms[0].get('code')).toBe('the-code');
      const verifier = forms[0].get('code_verifier')!;
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
      expect(Buffer.from(digest).toString('base64url')).toBe(challenge);
      expect(auth.token()).toBe(accessToken);
      expect(auth.identity()).toEqual({ id: 'u1', name: 'Ada', email: undefined });
    });

    it('rejects an opaque access token', async () => {
      const { auth, state } = await startSignIn('opaque-token');
      await expect(auth.start(`http://a/?code=the-code&state=${state}`)).rejects.toThrow(
        'returned no JWT access token for the audience https://api.example.test',
      );
      expect(await auth.manager!.getUser()).toBeNull();
    });
  });
});
