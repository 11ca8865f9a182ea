// Shared helpers for the end-to-end specs: the browser, tokens, direct API calls for
// seeding data, and board queries.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCREENSHOT_DIR = path.join(here, 'screenshots');

export const BASE_URL = (process.env.PRISM_URL ?? '').replace(/\/+$/, '');
if (!BASE_URL) throw new Error('PRISM_URL is not set: point it at a running Prism Plan server');

export const CATEGORIES = ['critical', 'fun', 'important', 'normal'] as const;
export type Lane = (typeof CATEGORIES)[number] | 'done';

/** Launches Chromium headless; `extraArgs` adds command-line switches. */
export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The cluster's nginx serves a self-signed certificate made for the test run.
      ...(process.env.PRISM_IGNORE_CERT_ERRORS ? ['--ignore-certificate-errors'] : []),
      ...extraArgs,
    ],
  });
}

/**
 * Returns a token for a test user. With TEST_JWT_SECRET each call signs a token for a new
 * user, so tests do not share data. Otherwise every test uses PRISM_TOKEN, and the specs
 * keep apart by giving their tasks a unique title prefix and searching for it.
 */
export async function tokenFor(label: string): Promise<string> {
  const secret = process.env.TEST_JWT_SECRET;
  if (secret) {
    const sub = `e2e-${label}-${Math.random().toString(36).slice(2, 10)}`;
    return new SignJWT({ name: `E2E ${label}` })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(secret));
  }
  const token = process.env.PRISM_TOKEN;
  if (!token) throw new Error('set PRISM_TOKEN (a test-mode JWT) or TEST_JWT_SECRET');
  return token;
}

export function uniquePrefix(label: string): string {
  return `${label}${Math.random().toString(36).slice(2, 7)}`;
}

// ---- Direct API calls (seeding and checks) ----

export interface ApiTask {
  id: string;
  title: string;
  notes?: string;
  category: string;
  order: number;
  done?: boolean;
}

export async function postCommands(token: string, commands: unknown[]): Promise<void> {
  for (let start = 0; start < commands.length; start += 40) {
    const batch = commands.slice(start, start + 40);
    const response = await fetch(`${BASE_URL}/api/commands`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(batch),
    });
    if (response.status !== 202) {
      throw new Error(`POST /api/commands answered ${response.status}: ${await response.text()}`);
    }
  }
}

export async function fetchAllTasks(token: string): Promise<ApiTask[]> {
  const tasks: ApiTask[] = [];
  let pageToken: string | undefined;
  do {
    const params = new URLSearchParams({ pageSize: '1000' });
    if (pageToken) params.set('pageToken', pageToken);
    const response = await fetch(`${BASE_URL}/api/tasks?${params}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`GET /api/tasks answered ${response.status}`);
    const body = (await response.json()) as { tasks: ApiTask[]; nextPageToken?: string };
    tasks.push(...body.tasks);
    pageToken = body.nextPageToken;
  } while (pageToken);
  return tasks;
}

export async function setSettings(token: string, settings: { tasksPerCategory?: number; showDoneTasks?: boolean }) {
  await postCommands(token, [{ entityType: 'user-settings', type: 'update-user-settings', data: settings }]);
}

/** Creates tasks through the API and waits until the read model lists them all. */
export async function seedTasks(
  token: string,
  tasks: Array<{ title: string; category: string; order: number; notes?: string }>,
): Promise<void> {
  const before = (await fetchAllTasks(token)).length;
  await postCommands(
    token,
    tasks.map((task) => ({ entityType: 'task', type: 'create-task', idempotencyKey: crypto.randomUUID(), data: task })),
  );
  await waitFor(async () => (await fetchAllTasks(token)).length >= before + tasks.length, 30_000, 'seeded tasks to appear');
}

// ---- Waiting ----

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
}

/** Polls `read` until it returns a value deep-equal to `expected`; fails with both values. */
export async function waitForValue<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000, what = 'value'): Promise<void> {
  let last: T | undefined;
  try {
    await waitFor(async () => {
      last = await read();
      return JSON.stringify(last) === JSON.stringify(expected);
    }, timeoutMs, what);
  } catch {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(last)}`);
  }
}

// ---- Board ----

/** Opens the board with a token passed as ?token= and scopes it to `prefix` with the search box. */
export async function openBoard(context: BrowserContext, token: string, prefix?: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/?token=${encodeURIComponent(token)}`);
  await page.locator('.board').first().waitFor({ timeout: 20_000 });
  if (prefix) await search(page, prefix);
  return page;
}

export async function search(page: Page, text: string): Promise<void> {
  await page.getByLabel('Search tasks').fill(text);
}

/** Reloads the page and restores the search scope. */
export async function reloadBoard(page: Page, prefix?: string): Promise<void> {
  await page.reload();
  await page.locator('.board').first().waitFor({ timeout: 20_000 });
  if (prefix) await search(page, prefix);
}

export function laneLocator(page: Page, lane: Lane) {
  return page.locator(`section.lane[data-lane="${lane}"]`);
}

export function cardLocator(page: Page, title: string) {
  return page.locator('li.card', { has: page.locator('.card-title', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) });
}

/** Titles of the cards shown in a lane, top to bottom. */
export async function laneTitles(page: Page, lane: Lane): Promise<string[]> {
  return laneLocator(page, lane).locator('.card-title').allTextContents();
}

export async function pendingText(page: Page): Promise<string> {
  return (await page.locator('.status-pending').allTextContents()).join('');
}

/** Waits until the page has no pending changes. */
export async function waitForSync(page: Page, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await page.locator('.status-pending').count()) === 0, timeoutMs, 'pending changes to be sent');
}

export async function addTask(page: Page, title: string, category: string, notes = ''): Promise<void> {
  await page.getByRole('button', { name: '+ Add task' }).click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByLabel('Title').fill(title);
  if (notes) await dialog.getByLabel('Notes').fill(notes);
  await dialog.getByLabel('Category').selectOption(category);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
}

export async function openUserMenu(page: Page): Promise<void> {
  const button = page.locator('.user-button');
  if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
}

export async function closeUserMenu(page: Page): Promise<void> {
  const button = page.locator('.user-button');
  if ((await button.getAttribute('aria-expanded')) === 'true') await button.click();
}

export async function setShowDone(page: Page, show: boolean): Promise<void> {
  await openUserMenu(page);
  const checkbox = page.getByLabel('Show done tasks');
  if ((await checkbox.isChecked()) !== show) await checkbox.click();
  await closeUserMenu(page);
}

export async function setTasksPerCategory(page: Page, value: number): Promise<void> {
  await openUserMenu(page);
  const input = page.getByLabel('Tasks per category');
  await input.fill(String(value));
  await closeUserMenu(page);
}

/** Saves a screenshot under e2e/screenshots/; `fullPage` is off for very long pages. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
