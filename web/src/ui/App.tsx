import { useEffect, useState } from 'preact/hooks';
import { ApiClient } from '../state/api';
import { fetchAuthConfig, LocalAccountAuth, TestTokenAuth, type AuthClient, type AuthConfig } from '../state/auth';
import type { OidcAuth } from '../state/oidc';
import { Session } from '../state/session';
import { claimTabIdentity } from '../state/tab-identity';
import { Board } from './Board';
import { LocalSignIn, OidcSignIn, TestTokenSignIn } from './SignIn';

type AppState =
  | { kind: 'starting' }
  | { kind: 'config-failed'; message: string }
  | { kind: 'silent-renewal' }
  | { kind: 'signed-out'; config: AuthConfig; auth: AuthClient; rejected: boolean; error?: string }
  | { kind: 'signed-in'; config: AuthConfig; auth: AuthClient; session: Session; userName: string };

const fetchFn = (input: string, init?: RequestInit) => fetch(input, init);

async function createAuth(config: AuthConfig): Promise<AuthClient> {
  if (config.mode === 'local') return new LocalAccountAuth(fetchFn);
  if (config.mode === 'oidc') {
    // Loaded on demand, so that oidc-client-ts is not in the bundle of the other modes.
    const { OidcAuth } = await import('../state/oidc');
    return new OidcAuth(config, { origin: window.location.origin, storage: { user: sessionStorage, state: localStorage } });
  }
  const auth = new TestTokenAuth(localStorage);
  const cleaned = auth.takeTokenFromUrl(window.location.href);
  if (cleaned) history.replaceState(history.state, '', cleaned);
  return auth;
}

function isOidc(auth: AuthClient): auth is OidcAuth {
  return auth.mode === 'oidc';
}

export function App() {
  const [state, setState] = useState<AppState>({ kind: 'starting' });

  const signedOut = (config: AuthConfig, auth: AuthClient, rejected = false, error?: string) =>
    setState({ kind: 'signed-out', config, auth, rejected, error });

  /** Starts a session when the auth client has a token for a user; otherwise shows sign-in. */
  const startSession = async (config: AuthConfig, auth: AuthClient, displayName?: string) => {
    const identity = auth.identity();
    if (!identity) {
      signedOut(config, auth, auth.token() !== null);
      return;
    }
    const tab = await claimTabIdentity(sessionStorage);
    const session = new Session(
      {
        api: new ApiClient(auth, fetchFn),
        auth,
        localStorage,
        tabId: tab.tabId,
        livenessCheck: () => tab.livenessCheck(),
        createEventSource: (url) => new EventSource(url),
        loginName: displayName,
        onSignInRequired: () => {
          if (auth.mode === 'test' || auth.mode === 'oidc') {
            session.stop();
            signedOut(config, auth, true);
          }
        },
      },
      identity.id,
    );
    const userName = displayName ?? identity.name ?? identity.email ?? identity.id;
    setState({ kind: 'signed-in', config, auth, session, userName });
    await session.start();
  };

  useEffect(() => {
    void (async () => {
      try {
        const config = await fetchAuthConfig(fetchFn);
        const auth = await createAuth(config);
        if (auth instanceof LocalAccountAuth) await auth.refresh();
        if (isOidc(auth)) {
          const started = await auth.startInBrowser(window);
          if (started.kind === 'silent-renewal') {
            setState({ kind: 'silent-renewal' });
            return;
          }
          if (started.kind === 'failed') {
            signedOut(config, auth, false, started.message);
            return;
          }
        }
        await startSession(config, auth);
      } catch (error) {
        setState({ kind: 'config-failed', message: error instanceof Error ? error.message : String(error) });
      }
    })();
  }, []);

  switch (state.kind) {
    case 'starting':
      return <p class="loading">Starting Prism Plan…</p>;
    case 'silent-renewal':
      return null;
    case 'config-failed':
      return (
        <main class="sign-in">
          <h1 class="brand">Prism Plan</h1>
          <p role="alert">The server could not be reached: {state.message}</p>
          <button type="button" onClick={() => window.location.reload()}>
            Try again
          </button>
        </main>
      );
    case 'signed-out': {
      const { auth, config } = state;
      if (auth instanceof LocalAccountAuth) {
        return <LocalSignIn auth={auth} config={config} onSignedIn={(name) => void startSession(config, auth, name)} />;
      }
      if (auth instanceof TestTokenAuth) {
        return <TestTokenSignIn auth={auth} rejected={state.rejected} onSignedIn={() => void startSession(config, auth)} />;
      }
      if (isOidc(auth)) {
        const error = state.error ?? (state.rejected ? 'The server rejected the access token. Sign in again.' : null);
        return <OidcSignIn auth={auth} error={error} />;
      }
      return null;
    }
    case 'signed-in': {
      const { session, auth, config } = state;
      return (
        <Board
          key={session.userId}
          session={session}
          userName={state.userName}
          onSignOut={() =>
            void session.signOut().then(() => signedOut(config, auth))
          }
        />
      );
    }
  }
}
