// OIDC sign-in against the test provider in e2e/oidc-provider.mjs: the authorization code
// flow with PKCE in Chromium, a task created on the board, token renewal with the refresh
// token, the server's checks of issuer and audience, and sign-out. Runs only against a
// server whose /api/auth/config reports mode "oidc" (scripts/e2e.sh starts one). Node must
// trust the provider's certificate (NODE_EXTRA_CA_CERTS) for the calls to its /test/*
// endpoints; Chromium ignores certificate errors instead.
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTask, BASE_URL, fetchAllTasks, laneTitles, launchBrowser, screenshot, search, waitFor, waitForSync, waitForValue } from './helpers';

interface AuthConfigBody {
  mode?: string;
  issuer?: string;
  audience?: string;
  clientId?: string;
}

interface ProviderCounts {
  authorizationCode: number;
  refreshToken: number;
  logout: number;
}

const config = (await (await fetch(`${BASE_URL}/api/auth/config`)).json().catch(() => ({}))) as AuthConfigBody;
const oidcMode = config.mode === 'oidc';
const issuer = config.issuer ?? '';

async function providerGet<T>(path: string): Promise<T> {
  const response = await fetch(new URL(path, issuer));
  if (!response.ok) throw new Error(`GET ${path} on the test provider returned ${response.status}`);
  return (await response.json()) as T;
}

/** Signs arbitrary claims with the provider's key, through its test-only endpoint. */
async function signWithProviderKey(claims: Record<string, unknown>): Promise<string> {
  const response = await fetch(new URL('test/sign', issuer), { method: 'POST', body: JSON.stringify(claims) });
  if (!response.ok) throw new Error(`POST /test/sign on the test provider returned ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

async function tasksStatus(token: string): Promise<number> {
  const response = await fetch(`${BASE_URL}/api/tasks`, { headers: { Authorization: `Bearer ${token}` } });
  return response.status;
}

/** Reads the access token that oidc-client-ts keeps in the page's sessionStorage. */
async function pageAccessToken(page: Page): Promise<string> {
  const token = await page.evaluate(() => {
    for (let i = 0; i < sessionStorage.length; i += 1) {
      const key = sessionStorage.key(i)!;
      if (key.startsWith('prism.oidc.user:')) return (JSON.parse(sessionStorage.getItem(key)!) as { access_token: string }).access_token;
    }
    return null;
  });
  if (!token) throw new Error('no OIDC user in sessionStorage');
  return token;
}

/** Records each POST /api/commands body together with the status the server returned. */
function recordCommands(page: Page): Array<{ body: string; status: number }> {
  const sent: Array<{ body: string; status: number }> = [];
  page.on('requestfinished', (request: Request) => {
    if (!request.url().endsWith('/api/commands') || request.method() !== 'POST') return;
    void request.response().then((response) => sent.push({ body: request.postData() ?? '', status: response?.status() ?? 0 }));
  });
  return sent;
}

function commandsOfType(sent: Array<{ body: string; status: number }>, type: string) {
  return sent.flatMap(({ body, status }) =>
    (JSON.parse(body) as Array<{ type: string; data?: Record<string, unknown> }>)
      .filter((command) => command.type === type)
      .map((command) => ({ ...command, status })),
  );
}

let browser: Browser;
beforeAll(async () => {
  // The provider's certificate is self-signed and made at test time.
  if (oidcMode) browser = await launchBrowser(['--ignore-certificate-errors']);
});
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!oidcMode)('OIDC sign-in', () => {
  it('signs in, renews and signs out', async () => {
    const user = await providerGet<{ sub: string; name: string; email: string }>('test/user');
    const countsBefore = await providerGet<ProviderCounts>('test/counts');
    const title = `oidc${Math.random().toString(36).slice(2, 8)} first task`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const sent = recordCommands(page);

    await page.goto(`${BASE_URL}/`);
    await page.getByRole('button', { name: 'Sign in with identity provider' }).click();
    await page.getByRole('heading', { name: 'Test provider' }).waitFor();
    expect(new URL(page.url()).searchParams.get('audience')).toBe(config.audience);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('.board').waitFor({ timeout: 20_000 });
    expect(await page.locator('.user-button').textContent()).toContain(user.name);
    expect(new URL(page.url()).search).toBe('');
    expect((await providerGet<ProviderCounts>('test/counts')).authorizationCode).toBe(countsBefore.authorizationCode + 1);

    await waitFor(() => commandsOfType(sent, 'login-user').length === 1, 10_000, 'login-user to be sent');
    const [login] = commandsOfType(sent, 'login-user');
    expect(login.data).toEqual({ name: user.name, email: user.email });
    expect(login.status).toBe(202);

    await addTask(page, title, 'important');
    await waitForSync(page);
    await search(page, title);
    await waitForValue(() => laneTitles(page, 'important'), [title], 10_000, 'task on the board');
    await screenshot(page, 'oidc-board');

    // The API accepts the provider's access token for this user.
    const accessToken = await pageAccessToken(page);
    expect((await fetchAllTasks(accessToken)).map((task) => task.title)).toContain(title);

    // scripts/e2e.sh starts the provider with 70-second access tokens, and Session renews a
    // minute before expiry, so a refresh_token grant follows about 10 s after sign-in.
    await waitFor(async () => (await providerGet<ProviderCounts>('test/counts')).refreshToken > countsBefore.refreshToken, 40_000, 'a refresh_token grant');
    await waitFor(async () => (await pageAccessToken(page)) !== accessToken, 10_000, 'the page to use the renewed token');
    const renewedTitle = `${title} after renewal`;
    await addTask(page, renewedTitle, 'important');
    await waitForSync(page);
    await search(page, renewedTitle);
    await waitForValue(() => laneTitles(page, 'important'), [renewedTitle], 10_000, 'task sent with the renewed token');

    // A reload keeps the tab signed in without another authorization code.
    await page.reload();
    await page.locator('.board').waitFor({ timeout: 20_000 });
    await search(page, title);
    await waitFor(async () => (await laneTitles(page, 'important')).includes(title), 10_000, 'task after a reload');
    expect((await providerGet<ProviderCounts>('test/counts')).authorizationCode).toBe(countsBefore.authorizationCode + 1);

    await page.locator('.user-button').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with identity provider' }).waitFor({ timeout: 20_000 });
    await waitFor(() => commandsOfType(sent, 'logout-user').length === 1, 10_000, 'logout-user to be sent');
    expect(commandsOfType(sent, 'logout-user')[0].status).toBe(202);
    expect((await providerGet<ProviderCounts>('test/counts')).logout).toBe(countsBefore.logout + 1);
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith('prism.oidc.user:')))).toEqual([]);
    await screenshot(page, 'oidc-signed-out');
    await context.close();
  });

  it('rejects tokens for another issuer or audience', async () => {
    const user = await providerGet<{ sub: string }>('test/user');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: config.audience, sub: user.sub, iat: now, exp: now + 300 };

    expect(await tasksStatus(await signWithProviderKey(claims))).toBe(200);
    expect(await tasksStatus(await signWithProviderKey({ ...claims, iss: 'https://other-issuer.example.test/' }))).toBe(401);
    expect(await tasksStatus(await signWithProviderKey({ ...claims, aud: 'another-api' }))).toBe(401);
    expect(await tasksStatus(await signWithProviderKey({ ...claims, exp: now - 3600 }))).toBe(401);
  });
});
