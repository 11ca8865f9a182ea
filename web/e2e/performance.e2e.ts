// P8: a board of 2,000 tasks renders within 1 s of the data arriving. The app marks
// "prism:data-arrived" when GET /api/tasks and GET /api/settings are done and measures
// "prism:first-render" after the first paint of the board.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchAllTasks, launchBrowser, laneLocator, openBoard, screenshot, seedTasks, setSettings, tokenFor, uniquePrefix, waitForValue } from './helpers';

const TASK_COUNT = 2000;
const BIG_LANE = 'normal';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('large board (P8)', () => {
  it('renders 2,000 tasks within 1 s of the data arriving', async () => {
    const token = await tokenFor('p8');
    const existing = (await fetchAllTasks(token)).length;
    const prefix = uniquePrefix('P');
    if (existing < TASK_COUNT) {
      // Three in four tasks go to one lane, so the expanded lane is large too.
      const categories = ['critical', 'fun', 'important'];
      const tasks = Array.from({ length: TASK_COUNT - existing }, (_, i) => ({
        title: `${prefix} task ${i}`,
        category: i % 4 === 3 ? categories[i % 3] : BIG_LANE,
        order: i,
        notes: i % 5 === 0 ? `Notes for task ${i}` : undefined,
      })).map((task) => (task.notes ? task : { title: task.title, category: task.category, order: task.order }));
      await seedTasks(token, tasks);
    }
    await setSettings(token, { tasksPerCategory: 3, showDoneTasks: false });

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await openBoard(context, token);
    await waitForValue(
      () => page.evaluate(() => performance.getEntriesByName('prism:first-render').length),
      1,
      10_000,
      'the first-render measure',
    );
    const firstRender = await page.evaluate(() => performance.getEntriesByName('prism:first-render')[0].duration);
    const sinceNavigation = await page.evaluate(() => performance.getEntriesByName('prism:board-rendered')[0].startTime);

    // Expanding the big lane renders all of its cards.
    const bigLaneCount = Number(await laneLocator(page, BIG_LANE).locator('.lane-count').textContent());
    const expand = await page.evaluate(async ({ lane, expected }) => {
      const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      const start = performance.now();
      (document.querySelector(`section.lane[data-lane="${lane}"] .lane-title`) as HTMLElement).click();
      await nextFrame();
      const firstPaint = performance.now() - start;
      while (document.querySelectorAll('li.card').length < expected && performance.now() - start < 10_000) await nextFrame();
      return { firstPaint, allCards: performance.now() - start };
    }, { lane: BIG_LANE, expected: bigLaneCount });
    const shownCards = await page.locator('li.card').count();
    await screenshot(page, 'p8-expanded-lane', false);
    console.log(
      `P8: first render of ${TASK_COUNT} tasks ${firstRender.toFixed(1)} ms after the data arrived ` +
        `(${sinceNavigation.toFixed(0)} ms after navigation start); ` +
        `expanding a lane of ${bigLaneCount} cards: first cards painted after ${expand.firstPaint.toFixed(1)} ms, ` +
        `all cards after ${expand.allCards.toFixed(1)} ms`,
    );
    expect(shownCards).toBe(bigLaneCount);
    expect(firstRender).toBeLessThan(1000);
    expect(expand.firstPaint).toBeLessThan(1000);
    // The rest of the lane fills in over later frames. This looser bound only catches a
    // regression (seen here: 340 to 930 ms on a 2-core machine under a load average of 8).
    expect(expand.allCards).toBeLessThan(3000);
    await context.close();
  });
});
