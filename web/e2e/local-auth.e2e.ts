// Local accounts: sign-up, sign-in, staying signed in across a reload through the
// refresh cookie, and sign-out. Runs only against a server whose /api/auth/config
// reports mode "local" (`npm run e2e:mock` starts a second mock server for it).
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTask, BASE_URL, laneTitles, launchBrowser, screenshot, search, waitForSync, waitForValue } from './helpers';

const config = (await (await fetch(`${BASE_URL}/api/auth/config`)).json().catch(() => ({}))) as { mode?: string };
const localMode = config.mode === 'local';

let browser: Browser;
beforeAll(async () => {
  if (localMode) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!localMode)('local accounts', () => {
  it('signs up, stays signed in after a reload, signs out and in again', async () => {
    const username = `user${Math.random().toString(36).slice(2, 8)}`;
    const password = 'correct horse battery';
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE_URL}/`);

    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Name (optional)').fill('Ada Local');
    await page.getByLabel('Password').fill('short');
    expect(await page.getByRole('button', { name: 'Sign up' }).isDisabled()).toBe(true);
    await screenshot(page, 'local-sign-up');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.locator('.board').waitFor();
    expect(await page.locator('.user-button').textContent()).toContain('Ada Local');

    await addTask(page, `${username} first task`, 'fun');
    await waitForSync(page);
    await page.reload();
    await page.locator('.board').waitFor();
    await search(page, username);
    await waitForValue(() => laneTitles(page, 'fun'), [`${username} first task`], 10_000, 'task after reload');

    await page.locator('.user-button').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.form-error').waitFor();
    expect(await page.locator('.form-error').textContent()).toContain('401');
    await screenshot(page, 'local-sign-in-error');

    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.board').waitFor();
    await search(page, username);
    await waitForValue(() => laneTitles(page, 'fun'), [`${username} first task`], 10_000, 'task after signing in again');
    await context.close();
  });
});
