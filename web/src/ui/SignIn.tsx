import { useState } from 'preact/hooks';
import type { AuthConfig, LocalAccountAuth, TestTokenAuth } from '../state/auth';
import type { OidcAuth } from '../state/oidc';

interface LocalSignInProps {
  auth: LocalAccountAuth;
  config: AuthConfig;
  /** Called with the display name to send in `login-user`. */
  onSignedIn(name: string): void;
}

const MIN_PASSWORD_LENGTH = 10;

/** Renders sign-in and sign-up for a local account (username and password). */
export function LocalSignIn({ auth, config, onSignedIn }: LocalSignInProps) {
  const [mode, setMode] = useState<'sign-in' | 'sign-up'>('sign-in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === 'sign-up';
  const passwordTooShort = signingUp && password.length < MIN_PASSWORD_LENGTH;
  const canSubmit = username.trim() !== '' && password !== '' && !passwordTooShort && !busy;

  const handleSubmit = async (event: Event) => {
    event.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setError(null);
    try {
      if (signingUp) await auth.signUp(username.trim(), password, name);
      await auth.logIn(username.trim(), password);
      onSignedIn(signingUp && name.trim() !== '' ? name.trim() : username.trim());
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1 class="brand">Prism Plan</h1>
      <form class="dialog-form sign-in-form" onSubmit={handleSubmit}>
        <h2>{signingUp ? 'Create an account' : 'Sign in'}</h2>
        <label for="username">Username</label>
        <input id="username" autoComplete="username" value={username} onInput={(e) => setUsername((e.currentTarget as HTMLInputElement).value)} autoFocus />
        {signingUp && (
          <>
            <label for="display-name">Name (optional)</label>
            <input id="display-name" autoComplete="name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
          </>
        )}
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete={signingUp ? 'new-password' : 'current-password'}
          value={password}
          aria-describedby={signingUp ? 'password-hint' : undefined}
          onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
        />
        {signingUp && (
          <p id="password-hint" class={`hint${passwordTooShort && password !== '' ? ' invalid' : ''}`}>
            At least {MIN_PASSWORD_LENGTH} characters.
          </p>
        )}
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          {config.signup && (
            <button type="button" onClick={() => setMode(signingUp ? 'sign-in' : 'sign-up')}>
              {signingUp ? 'I have an account' : 'Create an account'}
            </button>
          )}
          <button type="submit" class="primary" disabled={!canSubmit}>
            {signingUp ? 'Sign up' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}

interface TestTokenSignInProps {
  auth: TestTokenAuth;
  rejected: boolean;
  onSignedIn(): void;
}

/** Renders test-mode sign-in. Tests inject the token, and this form lets a developer paste one. */
export function TestTokenSignIn({ auth, rejected, onSignedIn }: TestTokenSignInProps) {
  const [token, setToken] = useState('');
  return (
    <main class="sign-in">
      <h1 class="brand">Prism Plan</h1>
      <form
        class="dialog-form sign-in-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim() === '') return;
          auth.setToken(token);
          onSignedIn();
        }}
      >
        <h2>Sign in with a test token</h2>
        <p>This server runs in test mode. Paste a JWT signed with its test secret.</p>
        {rejected && (
          <p class="form-error" role="alert">
            The server rejected the stored token. Paste a new one.
          </p>
        )}
        <label for="test-token">Access token</label>
        <textarea id="test-token" rows={4} value={token} onInput={(e) => setToken((e.currentTarget as HTMLTextAreaElement).value)} />
        <div class="dialog-buttons">
          <button type="submit" class="primary" disabled={token.trim() === ''}>
            Sign in
          </button>
        </div>
      </form>
    </main>
  );
}

interface OidcSignInProps {
  auth: OidcAuth;
  /** Reason that the last sign-in failed (a provider error or a rejected token), or null. */
  error: string | null;
}

/** Renders OIDC sign-in: one button that redirects to the identity provider. */
export function OidcSignIn({ auth, error }: OidcSignInProps) {
  const [busy, setBusy] = useState(false);
  const [redirectError, setRedirectError] = useState<string | null>(null);
  const shownError = redirectError ?? error;

  const handleSignIn = async () => {
    setBusy(true);
    setRedirectError(null);
    try {
      await auth.signIn();
    } catch (caught) {
      setRedirectError(`Redirecting to the identity provider failed: ${caught instanceof Error ? caught.message : String(caught)}`);
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1 class="brand">Prism Plan</h1>
      <div class="dialog-form sign-in-form">
        <h2>Sign in</h2>
        {auth.problem ? (
          <p role="alert">Sign-in is unavailable because {auth.problem}. Ask the server's administrator to set it.</p>
        ) : (
          <>
            <p>This server signs you in with your organisation's identity provider.</p>
            {shownError && (
              <p class="form-error" role="alert">
                {shownError}
              </p>
            )}
            <div class="dialog-buttons">
              <button type="button" class="primary" disabled={busy} onClick={() => void handleSignIn()}>
                Sign in with identity provider
              </button>
            </div>
          </>
        )}
      </div>
    </main>
  );
}
