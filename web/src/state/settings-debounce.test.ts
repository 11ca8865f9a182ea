import { describe, expect, it } from 'vitest';
import { parseTasksPerCategory, TasksPerCategoryDebouncer } from './settings-debounce';
import { ManualClock } from './test-support';

function setup(initial = 3) {
  const clock = new ManualClock();
  const sent: number[] = [];
  const debouncer = new TasksPerCategoryDebouncer({ send: (value) => sent.push(value), schedule: clock.schedule }, initial);
  return { clock, sent, debouncer };
}

describe('tasks per category debounce', () => {
  it('sends 400 ms after the last keystroke', async () => {
    const { clock, sent, debouncer } = setup();
    debouncer.input('1');
    await clock.advance(300);
    debouncer.input('12');
    await clock.advance(399);
    expect(sent).toEqual([]);
    await clock.advance(1);
    expect(sent).toEqual([12]);
  });

  it('sends at once on blur', async () => {
    const { sent, debouncer, clock } = setup();
    debouncer.input('5');
    debouncer.blur();
    expect(sent).toEqual([5]);
    await clock.advance(1000);
    expect(sent).toEqual([5]);
  });

  it('skips invalid values', async () => {
    const { sent, debouncer, clock } = setup();
    for (const text of ['0', '-1', '2.5', 'abc', '', '1001']) {
      debouncer.input(text);
      await clock.advance(400);
    }
    expect(sent).toEqual([]);
  });

  it('does not resend the current value', async () => {
    const { sent, debouncer, clock } = setup(4);
    debouncer.input('4');
    await clock.advance(400);
    debouncer.blur();
    expect(sent).toEqual([]);
  });

  it('follows the server value while the user is not typing', async () => {
    const { sent, debouncer, clock } = setup(3);
    debouncer.setServerValue(6);
    debouncer.input('3');
    await clock.advance(400);
    expect(sent).toEqual([3]);
  });

  it('parses whole numbers from 1 to 1000', () => {
    expect(parseTasksPerCategory(' 7 ')).toBe(7);
    expect(parseTasksPerCategory('1000')).toBe(1000);
    expect(parseTasksPerCategory('0')).toBeUndefined();
    expect(parseTasksPerCategory('1e2')).toBeUndefined();
  });
});
