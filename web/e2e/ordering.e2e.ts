// Many moves in a long lane, and two tabs moving cards at the same time, must end with
// the order that a fresh reload shows.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  laneLocator,
  laneTitles,
  launchBrowser,
  openBoard,
  reloadBoard,
  screenshot,
  seedTasks,
  setSettings,
  tokenFor,
  uniquePrefix,
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

/** A small deterministic random generator, so a failing run can be repeated. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function expandLane(page: Page, lane: string): Promise<void> {
  await laneLocator(page, lane as 'normal').locator('.lane-title').click();
  await waitForValue(() => page.locator('section.lane').count(), 1, 5_000, 'the expanded lane');
}

/** Clicks move up or down on a card picked at random among those that can move that way. */
async function randomMove(page: Page, lane: string, random: () => number): Promise<void> {
  const cards = laneLocator(page, lane as 'normal').locator('li.card');
  const count = await cards.count();
  const index = Math.floor(random() * count);
  let direction: 'up' | 'down' = random() < 0.5 ? 'up' : 'down';
  if (index === 0) direction = 'down';
  if (index === count - 1) direction = 'up';
  await cards.nth(index).locator(`[data-control="${direction}"]`).click();
}

describe('ordering', () => {
  it('persists exactly the shown order after many moves in a lane of 200', async () => {
    const token = await tokenFor('order200');
    const prefix = uniquePrefix('L');
    const titles = Array.from({ length: 200 }, (_, i) => `${prefix} card ${String(i).padStart(3, '0')}`);
    await seedTasks(token, titles.map((title, order) => ({ title, category: 'important', order })));
    await setSettings(token, { tasksPerCategory: 3, showDoneTasks: false });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await openBoard(context, token, prefix);
    await expandLane(page, 'important');
    await waitForValue(async () => (await laneTitles(page, 'important')).length, 200, 10_000, '200 cards');

    const random = seededRandom(200);
    for (let i = 0; i < 80; i += 1) await randomMove(page, 'important', random);
    const shown = await laneTitles(page, 'important');
    expect(shown).toHaveLength(200);
    expect(shown).not.toEqual(titles);
    await waitForSync(page, 60_000);
    await screenshot(page, 'ordering-200-before-reload');

    // Let the stream confirm the last changes, then compare with a fresh load.
    await waitForValue(() => laneTitles(page, 'important'), shown, 15_000, 'order after sync');
    await reloadBoard(page, prefix);
    await expandLane(page, 'important');
    await waitForValue(() => laneTitles(page, 'important'), shown, 15_000, 'order after reload');
    await context.close();
  });

  it('two tabs moving cards at once converge on the reloaded order', async () => {
    const token = await tokenFor('concurrent');
    const prefix = uniquePrefix('C');
    const titles = Array.from({ length: 12 }, (_, i) => `${prefix} item ${String(i).padStart(2, '0')}`);
    await seedTasks(token, titles.map((title, order) => ({ title, category: 'fun', order })));
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const first = await openBoard(context, token, prefix);
    const second = await openBoard(context, token, prefix);
    await expandLane(first, 'fun');
    await expandLane(second, 'fun');
    await waitForValue(async () => (await laneTitles(second, 'fun')).length, 12, 10_000, '12 cards');

    const randomFirst = seededRandom(1);
    const randomSecond = seededRandom(2);
    const run = async (page: Page, random: () => number) => {
      for (let i = 0; i < 25; i += 1) await randomMove(page, 'fun', random);
    };
    await Promise.all([run(first, randomFirst), run(second, randomSecond)]);
    await waitForSync(first, 60_000);
    await waitForSync(second, 60_000);

    const fresh = await openBoard(context, token, prefix);
    await expandLane(fresh, 'fun');
    await waitForValue(async () => (await laneTitles(fresh, 'fun')).length, 12, 10_000, 'fresh tab loaded');
    // Wait for the server to settle: the fresh tab's order stops changing once every
    // command is applied; then both tabs must show it.
    let settled = await laneTitles(fresh, 'fun');
    await waitForValue(() => laneTitles(first, 'fun'), settled, 20_000, 'first tab matches the fresh load');
    await waitForValue(() => laneTitles(second, 'fun'), settled, 20_000, 'second tab matches the fresh load');
    await reloadBoard(fresh, prefix);
    await expandLane(fresh, 'fun');
    settled = await laneTitles(fresh, 'fun');
    expect(await laneTitles(first, 'fun')).toEqual(settled);
    expect(await laneTitles(second, 'fun')).toEqual(settled);
    await screenshot(first, 'ordering-two-tabs');
    await context.close();
  });
});
