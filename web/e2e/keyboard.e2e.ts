// Sign-in with a test token, the details view, and every card action from the keyboard.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_URL,
  cardLocator,
  laneTitles,
  launchBrowser,
  openBoard,
  screenshot,
  search,
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

const focusedText = (page: import('playwright-core').Page) =>
  page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    return element ? element.getAttribute('aria-label') ?? element.textContent ?? '' : '';
  });

describe('sign-in', () => {
  it('stores the URL token and hides it', async () => {
    const token = await tokenFor('signin');
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE_URL}/?token=${encodeURIComponent(token)}`);
    await page.locator('.board').waitFor();
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate(() => localStorage.getItem('prism.token'))).toBe(token);
    await screenshot(page, 'signed-in');

    // Signing out removes the stored token and shows the test-mode sign-in form.
    await page.locator('.user-button').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token').waitFor();
    expect(await page.evaluate(() => localStorage.getItem('prism.token'))).toBeNull();

    // Pasting the token signs in again.
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.board').waitFor();
    await context.close();
  });
});

describe('keyboard', () => {
  it('reaches every card action without a mouse', async () => {
    const token = await tokenFor('keyboard');
    const prefix = uniquePrefix('K');
    const t = (name: string) => `${prefix} ${name}`;
    await setSettings(token, { tasksPerCategory: 5, showDoneTasks: true });
    const context = await browser.newContext();
    const page = await openBoard(context, token, prefix);

    // The add dialog: focus starts in the title, Save stays disabled while it is blank,
    // Escape closes the dialog and focus returns to the button that opened it.
    const addButton = page.getByRole('button', { name: '+ Add task' });
    await addButton.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('add-title');
    expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await page.keyboard.type('   ');
    expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    // Tab cycles inside the modal dialog.
    for (let i = 0; i < 8; i += 1) {
      await page.keyboard.press('Tab');
      const inside = await page.evaluate(() => !!document.activeElement?.closest('dialog'));
      if (!inside) {
        // Chromium may move focus to the browser UI past the last control; the page
        // behind the dialog must never get it.
        const behind = await page.evaluate(() => document.activeElement !== document.body && !!document.activeElement?.closest('.app'));
        expect(behind).toBe(false);
      }
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focusedText(page)).toBe('+ Add task');

    // Add two tasks with the keyboard only.
    for (const [title, category] of [
      [t('alpha'), 'normal'],
      [t('beta'), 'normal'],
    ]) {
      await addButton.focus();
      await page.keyboard.press('Enter');
      await page.keyboard.type(title);
      await page.keyboard.press('Tab');
      await page.keyboard.type('first line\nsecond line https://example.com/x');
      await page.keyboard.press('Tab');
      await page.locator('#add-category').selectOption(category);
      await page.locator('#add-title').focus();
      await page.keyboard.press('Enter');
      await page.locator('dialog[open]').waitFor({ state: 'detached' });
    }
    await waitForValue(() => laneTitles(page, 'normal'), [t('alpha'), t('beta')], 5_000, 'two tasks added');

    // Move up with the keyboard; focus stays on the moved card's control.
    await cardLocator(page, t('beta')).getByRole('button', { name: `Move ${t('beta')} up` }).focus();
    await page.keyboard.press('Enter');
    await waitForValue(() => laneTitles(page, 'normal'), [t('beta'), t('alpha')], 5_000, 'moved up');
    expect(await focusedText(page)).toBe(`Move ${t('beta')} up`);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await waitForValue(() => laneTitles(page, 'normal'), [t('alpha'), t('beta')], 5_000, 'moved down');

    // Move to another lane through the "Move to…" dialog; focus follows the card.
    await cardLocator(page, t('alpha')).getByRole('button', { name: `Move ${t('alpha')} to another lane` }).focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').getByRole('button', { name: 'Critical' }).waitFor();
    expect(await focusedText(page)).toBe('Critical');
    await page.keyboard.press('Enter');
    await waitForValue(() => laneTitles(page, 'critical'), [t('alpha')], 5_000, 'moved to critical');
    expect(await focusedText(page)).toBe(`Move ${t('alpha')} to another lane`);

    // Open details with Enter, edit title and notes, go back.
    await cardLocator(page, t('beta')).locator('.card-open').focus();
    await page.keyboard.press('Enter');
    const details = page.locator('dialog[open]');
    await details.getByRole('heading', { name: t('beta') }).waitFor();
    expect(await details.textContent()).toContain('Normal');
    expect(await details.textContent()).toContain('Open');
    expect(await details.locator('a[href="https://example.com/x"]').count()).toBe(1);
    await screenshot(page, 'details');
    await details.getByRole('button', { name: 'Edit' }).click();
    await page.locator('#details-title').fill(t('beta edited'));
    await page.locator('#details-notes').fill('new notes');
    await page.locator('#details-notes').press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await details.getByRole('heading', { name: t('beta edited') }).waitFor();
    await details.getByRole('button', { name: 'Back' }).click();
    await details.waitFor({ state: 'detached' });
    await waitForValue(() => laneTitles(page, 'normal'), [t('beta edited')], 5_000, 'edited title on the card');

    // Complete from the details view, then reopen with the select in Done.
    await cardLocator(page, t('beta edited')).locator('.card-open').focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').getByRole('button', { name: 'Complete' }).click();
    await waitForValue(() => laneTitles(page, 'done'), [t('beta edited')], 5_000, 'completed from details');
    await page.keyboard.press('Escape');
    await cardLocator(page, t('beta edited')).getByRole('button', { name: `Move ${t('beta edited')} to another lane` }).focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').getByRole('button', { name: 'Fun (reopen it)' }).waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await waitForValue(() => laneTitles(page, 'fun'), [t('beta edited')], 5_000, 'reopened into fun');

    // The search box is labelled and filters as the user types.
    await search(page, `${prefix} alp`);
    await waitFor(async () => (await page.locator('li.card').count()) === 1, 5_000, 'one card after search');
    await waitForSync(page);
    await context.close();
  });

  it('stacks lanes at phone width', async () => {
    const token = await tokenFor('phone');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await openBoard(context, token);
    const boxes = await page.locator('section.lane').evaluateAll((lanes) => lanes.map((lane) => lane.getBoundingClientRect().x));
    expect(new Set(boxes.map((x) => Math.round(x))).size).toBe(1);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await context.close();
  });
});
