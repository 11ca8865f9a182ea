import { useEffect, useState } from 'preact/hooks';
import { ApiClient } from '../state/api';
import { fetchAuthConfig, LocalAccountAuth, TestTokenAuth, type AuthClient, type AuthConfig } from '../state/auth';
import { OidcAuth } from '../state/oidc';
import { Session } from '../state/session';
import { claimTabIdentity } from '../state/tab-identity';
import { Board } from './Board';
import { LocalSignIn, OidcUnavailable, TestTokenSignIn } from './SignIn';

type AppState =
  | { kind: 'starting' }
  | { kind: 'config-failed'; message: string }
  | { kind: 'signed-out'; config: AuthConfig; auth: AuthClient; rejected: boolean }
  | { kind: 'signed-in'; config: AuthConfig; auth: AuthClient; session: Session; userName: string };

const fetchFn = (input: string, init?: RequestInit) => fetch(input, init);

function createAuth(config: AuthConfig): AuthClient {
  if (config.mode === 'local') return new LocalAccountAuth(fetchFn);
  if (config.mode === 'oidc') return new OidcAuth(config);
  const auth = new TestTokenAuth(localStorage);
  const cleaned = auth.takeTokenFromUrl(window.location.href);
  if (cleaned) history.replaceState(history.state, '', cleaned);
  return auth;
}

export function App() {
  const [state, setState] = useState<AppState>({ kind: 'starting' });

  const signedOut = (config: AuthConfig, auth: AuthClient, rejected = false) =>
    setState({ kind: 'signed-out', config, auth, rejected });

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
          if (auth.mode === 'test') {
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
        const auth = createAuth(config);
        if (auth instanceof LocalAccountAuth) await auth.refresh();
        await startSession(config, auth);
      } catch (error) {
        setState({ kind: 'config-failed', message: error instanceof Error ? error.message : String(error) });
      }
    })();
  }, []);

  switch (state.kind) {
    case 'starting':
      return <p class="loading">Starting Prism Plan…</p>;
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
      return <OidcUnavailable />;
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
