// Going offline queues changes; they are sent, with their keys, once the network returns.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTask,
  cardLocator,
  fetchAllTasks,
  laneTitles,
  launchBrowser,
  openBoard,
  pendingText,
  reloadBoard,
  screenshot,
  setSettings,
  tokenFor,
  uniquePrefix,
  waitFor,
  waitForSync,
  waitForValue,
} from './helpers';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('offline', () => {
  it('queues a change while offline and applies it on reconnect', async () => {
    const token = await tokenFor('offline');
    const prefix = uniquePrefix('O');
    const t = (name: string) => `${prefix} ${name}`;
    await setSettings(token, { tasksPerCategory: 5, showDoneTasks: false });
    const context = await browser.newContext();
    const watcherContext = await browser.newContext();
    const page = await openBoard(context, token, prefix);
    const watcher = await openBoard(watcherContext, token, prefix);
    await addTask(page, t('first'), 'important');
    await addTask(page, t('second'), 'important');
    await waitForSync(page);
    await waitForValue(() => laneTitles(watcher, 'important'), [t('first'), t('second')], 10_000, 'watcher sees both');

    await context.setOffline(true);
    await cardLocator(page, t('second')).getByRole('button', { name: `Move ${t('second')} up` }).click();
    await addTask(page, t('offline'), 'important');
    // The change shows at once, is counted as pending, and the page reports the lost connection.
    expect(await laneTitles(page, 'important')).toEqual([t('second'), t('first'), t('offline')]);
    await waitFor(async () => (await pendingText(page)) === '3 changes pending', 5_000, '"3 changes pending"');
    await waitFor(async () => (await page.locator('.status-lost').count()) > 0, 10_000, '"connection lost"');
    await screenshot(page, 'offline-pending');
    // Nothing reached the server or the other context.
    expect((await fetchAllTasks(token)).filter((task) => task.title === t('offline'))).toEqual([]);
    expect(await laneTitles(watcher, 'important')).toEqual([t('first'), t('second')]);

    await context.setOffline(false);
    await waitForSync(page, 40_000);
    await waitForValue(() => laneTitles(watcher, 'important'), [t('second'), t('first'), t('offline')], 15_000, 'watcher after reconnect');
    await waitFor(async () => (await page.locator('.status-lost').count()) === 0, 40_000, 'connection indicator to clear');
    const onServer = (await fetchAllTasks(token)).filter((task) => task.title === t('offline'));
    expect(onServer).toHaveLength(1);

    await reloadBoard(page, prefix);
    await waitForValue(() => laneTitles(page, 'important'), [t('second'), t('first'), t('offline')], 10_000, 'after reload');
    await screenshot(page, 'offline-reconnected');
    await context.close();
    await watcherContext.close();
  });

  it('keeps queued changes across a reload while offline', async () => {
    const token = await tokenFor('offline-reload');
    const prefix = uniquePrefix('R');
    const t = (name: string) => `${prefix} ${name}`;
    const context = await browser.newContext();
    const page = await openBoard(context, token, prefix);
    await addTask(page, t('kept'), 'fun');
    await waitForSync(page);

    // Block only the command endpoint, so the page itself can still reload.
    await context.route('**/api/commands', (route) => route.abort('internetdisconnected'));
    await addTask(page, t('queued'), 'fun');
    await waitFor(async () => (await pendingText(page)) === '1 change pending', 5_000, '"1 change pending"');
    await reloadBoard(page, prefix);
    await waitFor(async () => (await pendingText(page)) === '1 change pending', 10_000, 'pending change after reload');
    expect(await laneTitles(page, 'fun')).toEqual([t('kept'), t('queued')]);

    await context.unroute('**/api/commands');
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitForSync(page, 40_000);
    const titles = (await fetchAllTasks(token)).map((task) => task.title).filter((title) => title.startsWith(prefix));
    expect(titles.sort()).toEqual([t('kept'), t('queued')].sort());
    await context.close();
  });
});
