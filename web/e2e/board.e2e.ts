// The main board flow, watched live from a second browser context of the same user.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTask,
  cardLocator,
  laneLocator,
  laneTitles,
  launchBrowser,
  openBoard,
  reloadBoard,
  screenshot,
  search,
  setSettings,
  setShowDone,
  setTasksPerCategory,
  tokenFor,
  uniquePrefix,
  waitForSync,
  waitForValue,
  type Lane,
} from './helpers';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const LANES: Lane[] = ['critical', 'fun', 'important', 'normal', 'done'];

async function boardState(page: Page): Promise<Record<string, string[]>> {
  const state: Record<string, string[]> = {};
  for (const lane of LANES) {
    const titles = await laneTitles(page, lane);
    state[lane] = lane === 'done' ? titles.sort() : titles;
  }
  return state;
}

/** Checks a lane on both pages: the acting page at once, the watching page live. */
async function expectLane(actor: Page, watcher: Page, lane: Lane, titles: string[], what: string) {
  await waitForValue(() => laneTitles(actor, lane), titles, 5_000, `${what}: ${lane} lane in the acting tab`);
  await waitForValue(() => laneTitles(watcher, lane), titles, 10_000, `${what}: ${lane} lane in the second context`);
}

describe('board', () => {
  let contextA: BrowserContext;
  let contextB: BrowserContext;

  afterAll(async () => {
    await contextA?.close();
    await contextB?.close();
  });

  it('changes the board and shows every change live elsewhere', async () => {
    const token = await tokenFor('board');
    const prefix = uniquePrefix('B');
    const t = (name: string) => `${prefix} ${name}`;
    await setSettings(token, { tasksPerCategory: 3, showDoneTasks: false });
    contextA = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    contextB = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const a = await openBoard(contextA, token, prefix);
    const b = await openBoard(contextB, token, prefix);

    // Add tasks to two lanes.
    await addTask(a, t('one'), 'critical');
    await addTask(a, t('two'), 'critical');
    await addTask(a, t('three'), 'normal', 'Buy oat milk\nsee https://example.com');
    await addTask(a, t('four'), 'normal');
    await expectLane(a, b, 'critical', [t('one'), t('two')], 'add');
    await expectLane(a, b, 'normal', [t('three'), t('four')], 'add');
    await screenshot(a, 'board-added');

    // Move one up: two update-task commands swap the orders.
    await cardLocator(a, t('two')).getByRole('button', { name: `Move ${t('two')} up` }).click();
    await expectLane(a, b, 'critical', [t('two'), t('one')], 'move up');

    // Drag one to another lane: it goes to the end of that lane.
    await cardLocator(a, t('four')).locator('.card-open').dragTo(laneLocator(a, 'critical'));
    await expectLane(a, b, 'critical', [t('two'), t('one'), t('four')], 'drag to lane');
    await expectLane(a, b, 'normal', [t('three')], 'drag to lane');

    // Complete one by double click.
    await cardLocator(a, t('one')).locator('.card-open').dblclick();
    await expectLane(a, b, 'critical', [t('two'), t('four')], 'double click completes');

    // Show done tasks through the user menu; the other context follows the setting.
    await setShowDone(a, true);
    await expectLane(a, b, 'done', [t('one')], 'show done tasks');

    // Complete one by dropping it on Done.
    await cardLocator(a, t('three')).locator('.card-open').dragTo(laneLocator(a, 'done'));
    await waitForValue(async () => (await laneTitles(b, 'done')).sort(), [t('one'), t('three')].sort(), 10_000, 'drop on Done');
    await expectLane(a, b, 'normal', [], 'drop on Done');

    // Reopen one by double click in Done: it returns to its lane and place.
    await cardLocator(a, t('one')).locator('.card-open').dblclick();
    await expectLane(a, b, 'critical', [t('two'), t('one'), t('four')], 'double click reopens');

    // Drag a done card into a category lane: it is reopened there.
    await cardLocator(a, t('three')).locator('.card-open').dragTo(laneLocator(a, 'fun'));
    await expectLane(a, b, 'fun', [t('three')], 'drag from Done');
    await expectLane(a, b, 'done', [], 'drag from Done');
    await screenshot(a, 'board-after-moves');

    // Search filters by title or notes, ignoring case, as the user types.
    await search(a, `${prefix} TW`);
    await waitForValue(() => laneTitles(a, 'critical'), [t('two')], 5_000, 'search by title');
    await search(a, 'OAT MILK');
    await waitForValue(() => laneTitles(a, 'fun'), [t('three')], 5_000, 'search by notes');
    await waitForValue(() => laneTitles(a, 'critical'), [], 5_000, 'search by notes hides others');
    await screenshot(a, 'board-search');
    await search(a, prefix);

    // Tasks per category limits each lane; "+N more" opens the lane alone.
    await setTasksPerCategory(a, 2);
    await expectLane(a, b, 'critical', [t('two'), t('one')], 'lane limit');
    expect(await laneLocator(a, 'critical').locator('.more-button').textContent()).toBe('+1 more');
    await laneLocator(a, 'critical').locator('.more-button').click();
    await waitForValue(() => laneTitles(a, 'critical'), [t('two'), t('one'), t('four')], 5_000, 'expanded lane');
    expect(await a.locator('section.lane').count()).toBe(1);
    expect(await a.evaluate(() => document.activeElement?.textContent)).toBe('← Back to board');
    await screenshot(a, 'board-expanded-lane');
    await a.getByRole('button', { name: '← Back to board' }).click();
    await waitForValue(() => a.locator('section.lane').count(), 5, 5_000, 'back to the board');
    expect(await a.evaluate(() => document.activeElement?.closest('section')?.getAttribute('data-lane'))).toBe('critical');

    // A reload keeps everything, in both contexts.
    await waitForSync(a);
    const before = await boardState(a);
    await waitForValue(() => boardState(b), before, 10_000, 'second context matches');
    await reloadBoard(a, prefix);
    await waitForValue(() => boardState(a), before, 10_000, 'board after reload');
    await reloadBoard(b, prefix);
    await waitForValue(() => boardState(b), before, 10_000, 'second context after reload');
    await screenshot(a, 'board-reloaded');
  });
});
