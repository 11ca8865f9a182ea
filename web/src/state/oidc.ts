// OIDC sign-in (Auth0 or any provider).
//
// TODO: OIDC mode is a stub. Sign-in with the provider is still to be written: the
// authorization code flow with PKCE through oidc-client-ts, using the issuer, clientId
// and audience from GET /api/auth/config. Until then the app reports this sign-in method
// as unavailable.
import type { AuthClient, AuthConfig, UserIdentity } from './auth';

export class OidcAuth implements AuthClient {
  readonly mode = 'oidc' as const;

  constructor(readonly config: AuthConfig) {}

  get available(): boolean {
    return false;
  }

  token(): string | null {
    return null;
  }

  identity(): UserIdentity | null {
    return null;
  }

  async refresh(): Promise<boolean> {
    return false;
  }

  async signIn(): Promise<void> {
    throw new Error('OIDC sign-in is not available in this build of the web app');
  }

  async signOut(): Promise<void> {}
}
