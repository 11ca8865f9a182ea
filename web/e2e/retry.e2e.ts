// Command failures seen by the browser: retries after 503 without duplicates, and a
// rejected command that is dropped with a message. Needs the mock server's fault
// injection (POST /__mock/command-faults), so it is skipped against a real back end.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTask,
  BASE_URL,
  fetchAllTasks,
  laneTitles,
  launchBrowser,
  openBoard,
  screenshot,
  tokenFor,
  uniquePrefix,
  waitFor,
  waitForSync,
  waitForValue,
} from './helpers';

async function injectFaults(faults: Array<{ status: number; retryAfter?: number; error?: string }>): Promise<boolean> {
  try {
    const response = await fetch(`${BASE_URL}/__mock/command-faults`, { method: 'POST', body: JSON.stringify(faults) });
    return response.status === 204;
  } catch {
    return false;
  }
}

const hasFaultInjection = await injectFaults([]);

let browser: Browser;
beforeAll(async () => {
  if (hasFaultInjection) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!hasFaultInjection)('command failures', () => {
  it('retries after 503 without duplicates', async () => {
    const token = await tokenFor('retry');
    const prefix = uniquePrefix('Y');
    const context = await browser.newContext();
    const page = await openBoard(context, token, prefix);
    await waitForSync(page);
    await injectFaults([
      { status: 503, retryAfter: 1 },
      { status: 503, retryAfter: 1 },
    ]);
    await addTask(page, `${prefix} retried`, 'critical');
    await waitFor(async () => (await page.locator('.status-retry').count()) > 0, 5_000, 'the retry indicator');
    await screenshot(page, 'retry-pending');
    await waitForSync(page, 20_000);
    const matching = (await fetchAllTasks(token)).filter((task) => task.title === `${prefix} retried`);
    expect(matching).toHaveLength(1);
    await context.close();
  });

  it('drops a rejected command with a message', async () => {
    const token = await tokenFor('rejected');
    const prefix = uniquePrefix('X');
    const context = await browser.newContext();
    const page = await openBoard(context, token, prefix);
    await waitForSync(page);
    await injectFaults([{ status: 400, error: 'command 0: data.title must be 1-500 characters after trimming' }]);
    await addTask(page, `${prefix} rejected`, 'fun');
    await page.locator('.notices li').waitFor({ timeout: 5_000 });
    expect(await page.locator('.notices li').textContent()).toContain('data.title must be 1-500 characters');
    await waitForValue(() => laneTitles(page, 'fun'), [], 5_000, 'the rejected task to disappear');
    await waitForSync(page);
    await screenshot(page, 'rejected-command');
    await context.close();
  });
});
