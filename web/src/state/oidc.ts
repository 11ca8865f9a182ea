// OIDC sign-in (Auth0 or any provider): the authorization code flow with PKCE through
// oidc-client-ts, configured from the issuer, client id and audience that GET
// /api/auth/config reports. The access token goes to the API, so it must be a JWT for the
// API's audience. Auth0 issues such a token only when the authorize request names the
// audience, which is why `audience` is sent as an extra query parameter.
import {
  User,
  UserManager,
  WebStorageStateStore,
  type INavigator,
  type OidcMetadata,
  type UserManagerSettings,
} from 'oidc-client-ts';
import { identityFromToken, type AuthClient, type AuthConfig, type UserIdentity } from './auth';

/**
 * Scopes requested at sign-in: `profile` and `email` put the name and email into the ID
 * token for `login-user`, and `offline_access` requests a refresh token so that renewal
 * needs no hidden iframe (which third-party cookie blocking breaks).
 */
export const OIDC_SCOPES = 'openid profile email offline_access';

/** Storage of oidc-client-ts's state; tests pass in-memory stores. */
export interface OidcStorage {
  /** The signed-in user's tokens; the default is sessionStorage, so each tab signs in once. */
  user: Storage;
  /** PKCE verifiers and `state` values between the redirect and the callback. */
  state: Storage;
}

/** Returns the settings problem that prevents sign-in, or null when the configuration is usable. */
export function oidcConfigProblem(config: AuthConfig): string | null {
  const missing: string[] = [];
  if (!config.issuer) missing.push('issuer (AUTH_ISSUER or AUTH0_DOMAIN)');
  if (!config.clientId) missing.push('client id (AUTH_CLIENT_ID)');
  if (missing.length === 0) return null;
  return `the server's sign-in configuration is missing the ${missing.join(' and the ')}`;
}

/**
 * Builds the UserManager settings. The app's root URL is both the redirect URI after
 * sign-in and sign-out and the page that completes a silent renewal in an iframe, so the
 * provider needs `<origin>/` as an allowed callback, logout and web origin URL.
 */
export function userManagerSettings(
  config: AuthConfig,
  origin: string,
  storage: OidcStorage,
  metadata?: Partial<OidcMetadata>,
): UserManagerSettings {
  const problem = oidcConfigProblem(config);
  if (problem) throw new Error(problem);
  const appUrl = `${origin.replace(/\/+$/, '')}/`;
  return {
    authority: config.issuer!,
    client_id: config.clientId!,
    redirect_uri: appUrl,
    silent_redirect_uri: appUrl,
    post_logout_redirect_uri: appUrl,
    response_type: 'code',
    scope: OIDC_SCOPES,
    extraQueryParams: config.audience ? { audience: config.audience } : {},
    // Session renews the token a minute before `expiresAt`, so the library's own timer stays off.
    automaticSilentRenew: false,
    // The ID token already carries name and email; a userinfo call would add a round trip.
    loadUserInfo: false,
    userStore: new WebStorageStateStore({ prefix: 'prism.oidc.', store: storage.user }),
    stateStore: new WebStorageStateStore({ prefix: 'prism.oidc.', store: storage.state }),
    ...(metadata ? { metadata } : {}),
  };
}

/**
 * Picks the token for the API: the access token, while it is an unexpired JWT. An opaque
 * access token (Auth0 without an audience) or the ID token (whose `aud` is the client id)
 * would be rejected by the server, so neither is used.
 */
export function apiTokenOf(user: User | null, nowSeconds: number): string | null {
  if (!user || !user.access_token) return null;
  if (user.expires_at !== undefined && user.expires_at <= nowSeconds) return null;
  if (user.access_token.split('.').length !== 3) return null;
  return user.access_token;
}

/** True when a URL is the provider's redirect back to the app after sign-in. */
export function isSigninCallback(url: string): boolean {
  const params = new URL(url).searchParams;
  return params.has('state') && (params.has('code') || params.has('error'));
}

/** The URL without the parameters of a sign-in callback, for the address bar. */
export function withoutCallbackParams(url: string): string {
  const parsed = new URL(url);
  for (const name of ['code', 'state', 'session_state', 'iss', 'error', 'error_description', 'error_uri']) {
    parsed.searchParams.delete(name);
  }
  return parsed.toString();
}

/** Result of OidcAuth.startInBrowser. */
export type OidcStart = { kind: 'ready' } | { kind: 'silent-renewal' } | { kind: 'failed'; message: string };

export interface OidcAuthOptions {
  origin: string;
  storage: OidcStorage;
  now?: () => number;
  /** Replaces the browser redirect, for tests. */
  redirectNavigator?: INavigator;
  /** The provider's discovery document, for tests; by default it is fetched from the issuer. */
  metadata?: Partial<OidcMetadata>;
}

export class OidcAuth implements AuthClient {
  readonly mode = 'oidc' as const;
  /** Reason that sign-in cannot work with this configuration, or null. */
  readonly problem: string | null;
  readonly manager: UserManager | null;
  private user: User | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly now: () => number;

  constructor(
    readonly config: AuthConfig,
    options: OidcAuthOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
    this.problem = oidcConfigProblem(config);
    this.manager = this.problem
      ? null
      : new UserManager(
          userManagerSettings(config, options.origin, options.storage, options.metadata),
          options.redirectNavigator,
        );
  }

  get available(): boolean {
    return this.manager !== null;
  }

  /** When the access token expires, in Unix milliseconds (0 when unknown); Session renews before it. */
  get expiresAt(): number {
    return this.user?.expires_at ? this.user.expires_at * 1000 : 0;
  }

  /**
   * Completes a sign-in redirect when `url` is one and otherwise loads the stored user,
   * renewing an expired access token. Returns the URL to show in the address bar when it
   * changed. A provider error in the callback (such as access_denied) is thrown.
   */
  async start(url: string): Promise<string | null> {
    if (!this.manager) return null;
    if (isSigninCallback(url)) {
      try {
        this.user = (await this.manager.signinCallback(url)) ?? null;
      } finally {
        await this.manager.clearStaleState();
      }
      if (this.user && this.token() === null) {
        this.user = null;
        await this.manager.removeUser();
        throw new Error(`the identity provider returned no JWT access token for the audience ${this.config.audience ?? '(none)'}`);
      }
      return withoutCallbackParams(url);
    }
    this.user = await this.manager.getUser();
    if (this.user && apiTokenOf(this.user, this.nowSeconds()) === null) await this.refresh();
    return null;
  }

  /**
   * Runs `start` for the page's URL and cleans the address bar. Inside the hidden iframe of
   * a silent renewal it only hands the response to the parent page, which should then
   * render nothing.
   */
  async startInBrowser(page: Window): Promise<OidcStart> {
    const url = page.location.href;
    if (page.parent !== page && isSigninCallback(url)) {
      await this.manager?.signinSilentCallback(url);
      return { kind: 'silent-renewal' };
    }
    try {
      const cleaned = await this.start(url);
      if (cleaned) page.history.replaceState(page.history.state, '', cleaned);
      return { kind: 'ready' };
    } catch (error) {
      page.history.replaceState(page.history.state, '', withoutCallbackParams(url));
      return { kind: 'failed', message: `Signing in failed: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  token(): string | null {
    return apiTokenOf(this.user, this.nowSeconds());
  }

  /**
   * Returns the user from the access token's `sub` (the server's user id), with the name and email
   * from the ID token's claims when the access token lacks them.
   */
  identity(): UserIdentity | null {
    const token = this.token();
    const fromToken = token ? identityFromToken(token) : null;
    if (!fromToken) return null;
    const profile = this.user?.profile;
    return {
      id: fromToken.id,
      name: fromToken.name ?? (typeof profile?.name === 'string' ? profile.name : undefined),
      email: fromToken.email ?? (typeof profile?.email === 'string' ? profile.email : undefined),
    };
  }

  /** Redirects the browser to the provider's sign-in page. */
  async signIn(): Promise<void> {
    if (!this.manager) throw new Error(this.problem ?? 'OIDC sign-in is not configured');
    await this.manager.signinRedirect();
  }

  /**
   * Renews the tokens with the refresh token, or with a hidden iframe when the provider gave
   * none; concurrent callers share one renewal. Returns false when the user must sign in again.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refreshOnce().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /**
   * Forgets the tokens, then ends the provider's session through its end_session_endpoint
   * when it has one (a redirect that returns to the app's root URL).
   */
  async signOut(): Promise<void> {
    const idToken = this.user?.id_token;
    this.user = null;
    if (!this.manager) return;
    await this.manager.removeUser();
    let endSessionUrl: string | undefined;
    try {
      endSessionUrl = await this.manager.metadataService.getEndSessionEndpoint();
    } catch (error) {
      console.warn('prism: loading the provider metadata for sign-out failed', error);
    }
    // The authorize parameters (audience) would otherwise be appended to the logout URL too.
    if (endSessionUrl) await this.manager.signoutRedirect({ id_token_hint: idToken, extraQueryParams: {} });
  }

  // NOTE: only the refresh-token renewal runs in the tests. The iframe renewal (prompt=none,
  // for providers that issue no refresh token) has not been run against a provider.
  private async refreshOnce(): Promise<boolean> {
    if (!this.manager) return false;
    try {
      this.user = await this.manager.signinSilent();
      return this.token() !== null;
    } catch (error) {
      console.warn('prism: renewing the OIDC access token failed', error instanceof Error ? error.message : error);
      this.user = null;
      await this.manager.removeUser();
      return false;
    }
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
