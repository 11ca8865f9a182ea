import { describe, expect, it } from 'vitest';
import { buildLanes, compareTasks, endOrderOf, matchesQuery, planDrop, planMove, planSwap, planToggleDone } from './lanes';
import { task } from './test-support';
import type { Task } from './types';

const ids = (tasks: Task[]) => tasks.map((t) => t.id);

describe('lane ordering', () => {
  it('sorts by order within a lane', () => {
    const lanes = buildLanes([task('c', { order: 2 }), task('a', { order: 0 }), task('b', { order: 1 })]);
    expect(ids(lanes.normal)).toEqual(['a', 'b', 'c']);
  });

  it('breaks order ties by id', () => {
    const tasks = [task('b', { order: 1 }), task('c', { order: 1 }), task('a', { order: 1 })];
    expect(ids(buildLanes(tasks).normal)).toEqual(['a', 'b', 'c']);
    expect(ids(buildLanes([...tasks].reverse()).normal)).toEqual(['a', 'b', 'c']);
  });

  it('compares ids by code unit, not by locale', () => {
    // Locale collation puts "a" before "B"; code units put "B" (0x42) first.
    expect(compareTasks(task('a', { order: 0 }), task('B', { order: 0 }))).toBeGreaterThan(0);
  });

  it('puts done tasks in the Done lane only', () => {
    const lanes = buildLanes([
      task('open', { category: 'fun' }),
      task('closed', { category: 'fun', done: true }),
      task('urgent', { category: 'critical' }),
    ]);
    expect(ids(lanes.fun)).toEqual(['open']);
    expect(ids(lanes.done)).toEqual(['closed']);
    expect(ids(lanes.critical)).toEqual(['urgent']);
    expect(lanes.important).toEqual([]);
  });
});

describe('search filtering', () => {
  const tasks = [
    task('1', { title: 'Buy MILK' }),
    task('2', { title: 'Walk', notes: 'Take the milk bottle back' }),
    task('3', { title: 'Read' }),
  ];

  it('matches title or notes ignoring case', () => {
    expect(ids(buildLanes(tasks, 'milk').normal)).toEqual(['1', '2']);
    expect(ids(buildLanes(tasks, 'MiLk').normal)).toEqual(['1', '2']);
  });

  it('shows everything for a blank query', () => {
    expect(ids(buildLanes(tasks, '   ').normal)).toEqual(['1', '2', '3']);
  });

  it('finds nothing for an unknown word', () => {
    expect(matchesQuery(tasks[2], 'zebra')).toBe(false);
  });
});

describe('end of lane order', () => {
  it('is the number of open tasks in the lane', () => {
    const tasks = [task('a', { order: 0 }), task('b', { order: 1 }), task('c', { order: 0, category: 'fun' })];
    expect(endOrderOf(tasks, 'normal')).toBe(2);
    expect(endOrderOf(tasks, 'fun')).toBe(1);
    expect(endOrderOf(tasks, 'critical')).toBe(0);
  });

  it('ignores done tasks', () => {
    expect(endOrderOf([task('a', { order: 0 }), task('b', { order: 1, done: true })], 'normal')).toBe(1);
  });

  it('stays past the highest order when the lane has gaps', () => {
    expect(endOrderOf([task('a', { order: 4 })], 'normal')).toBe(5);
  });
});

describe('move up and down', () => {
  const lane = [task('a', { order: 0 }), task('b', { order: 1 }), task('c', { order: 2 })];

  it('moving up swaps orders with two order-only updates', () => {
    const commands = planMove(lane, lane, 'b', 'up');
    expect(commands).toEqual([
      { entityType: 'task', type: 'update-task', data: { id: 'b', order: 0 } },
      { entityType: 'task', type: 'update-task', data: { id: 'a', order: 1 } },
    ]);
  });

  it('moving down swaps with the next card', () => {
    const commands = planMove(lane, lane, 'b', 'down');
    expect(commands.map((c) => c.data)).toEqual([
      { id: 'b', order: 2 },
      { id: 'c', order: 1 },
    ]);
  });

  it('does nothing at the ends of the lane', () => {
    expect(planMove(lane, lane, 'a', 'up')).toEqual([]);
    expect(planMove(lane, lane, 'c', 'down')).toEqual([]);
  });

  it('renumbers the lane when orders tie', () => {
    const tied = [task('a', { order: 0 }), task('b', { order: 1 }), task('c', { order: 1 }), task('d', { order: 1 })];
    const commands = planMove(tied, tied, 'c', 'up');
    // Result order a, c, b, d numbered 0..3: c keeps 1, so only b and d change.
    expect(commands.map((c) => c.data)).toEqual([
      { id: 'b', order: 2 },
      { id: 'd', order: 3 },
    ]);
    for (const command of commands) expect(Object.keys(command.data).sort()).toEqual(['id', 'order']);
  });

  it('gives a strict order after moves on a tied lane', () => {
    let tasks = [task('x', { order: 0 }), task('y', { order: 0 }), task('z', { order: 0 })];
    const commands = planSwap(buildLanes(tasks).normal, 'z', 'y');
    tasks = tasks.map((t) => {
      const update = commands.find((c) => c.data.id === t.id);
      return update ? { ...t, order: update.data.order! } : t;
    });
    const sorted = buildLanes(tasks).normal;
    expect(ids(sorted)).toEqual(['x', 'z', 'y']);
    expect(sorted.map((t) => t.order)).toEqual([0, 1, 2]);
  });

  it('swaps with the visible neighbour when search hides cards between', () => {
    const all = [task('a', { order: 0 }), task('hidden', { order: 1 }), task('c', { order: 2 })];
    const visible = [all[0], all[2]];
    expect(planMove(all, visible, 'c', 'up').map((c) => c.data)).toEqual([
      { id: 'c', order: 0 },
      { id: 'a', order: 2 },
    ]);
  });
});

describe('drag and drop', () => {
  const tasks = [
    task('n1', { order: 0 }),
    task('n2', { order: 1 }),
    task('f1', { category: 'fun', order: 0 }),
    task('d1', { category: 'fun', order: 1, done: true }),
  ];

  it('dragging to another lane sets category and end order', () => {
    expect(planDrop(tasks, tasks[0], 'fun')).toEqual([
      { entityType: 'task', type: 'update-task', data: { id: 'n1', category: 'fun', order: 1 } },
    ]);
  });

  it('dropping on Done completes the task', () => {
    expect(planDrop(tasks, tasks[1], 'done')).toEqual([{ entityType: 'task', type: 'complete-task', data: { id: 'n2' } }]);
  });

  it('dragging a done card into a lane reopens it there', () => {
    expect(planDrop(tasks, tasks[3], 'normal')).toEqual([
      { entityType: 'task', type: 'update-task', data: { id: 'd1', category: 'normal', order: 2 } },
    ]);
  });

  it('dragging a done card back into its own category still reopens it', () => {
    expect(planDrop(tasks, tasks[3], 'fun')).toEqual([
      { entityType: 'task', type: 'update-task', data: { id: 'd1', category: 'fun', order: 1 } },
    ]);
  });

  it('dropping on the same lane changes nothing', () => {
    expect(planDrop(tasks, tasks[0], 'normal')).toEqual([]);
    expect(planDrop(tasks, tasks[3], 'done')).toEqual([]);
  });

  it('double click completes an open task and reopens a done one', () => {
    expect(planToggleDone(tasks[0]).type).toBe('complete-task');
    expect(planToggleDone(tasks[3]).type).toBe('reopen-task');
  });
});
