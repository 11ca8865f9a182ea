// Screenshots of a board with tasks in every lane, at desktop and phone width.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openBoard, screenshot, seedTasks, setSettings, tokenFor, uniquePrefix, waitFor } from './helpers';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('board screenshots', () => {
  it('shows every lane at desktop and phone width', async () => {
    const token = await tokenFor('shots');
    const prefix = uniquePrefix('S');
    const samples: Record<string, string[]> = {
      critical: ['Renew passport', 'Fix the leaking tap', 'Pay electricity bill', 'Call the bank'],
      fun: ['Plan the hiking weekend', 'Try the new ramen place'],
      important: ['Prepare the quarterly review', 'Book dentist appointment', 'Back up the laptop'],
      normal: ['Buy milk', 'Water the plants', 'Return library books', 'Sort old photos', 'Clean the garage'],
    };
    const tasks = Object.entries(samples).flatMap(([category, titles]) =>
      titles.map((title, order) => ({
        title: `${prefix} ${title}`,
        category,
        order,
        notes: order === 0 ? 'Details at https://example.com/info' : undefined,
      })),
    );
    await seedTasks(token, tasks.map((task) => (task.notes ? task : { title: task.title, category: task.category, order: task.order })));
    await setSettings(token, { tasksPerCategory: 3, showDoneTasks: true });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await openBoard(context, token, prefix);
    await page.locator('li.card').first().waitFor();
    // Complete two tasks so the Done lane has cards.
    for (const title of ['Pay electricity bill', 'Return library books']) {
      await page.locator('li.card', { hasText: `${prefix} ${title}` }).locator('.card-open').dblclick();
    }
    await waitFor(async () => (await page.locator('section.lane[data-lane="done"] li.card').count()) === 2, 10_000, 'two done cards');
    const desktop = await screenshot(page, 'board-desktop');

    await page.setViewportSize({ width: 390, height: 844 });
    const phone = await screenshot(page, 'board-phone');
    await context.close();
    expect(desktop).toContain('board-desktop');
    expect(phone).toContain('board-phone');
  });
});
