import { describe, expect, it } from 'vitest';
import { BoardStore } from './board-store';
import { task } from './test-support';
import type { Command } from './types';

function storeWithClock() {
  const clock = { now: 0 };
  const store = new BoardStore({ now: () => clock.now, confirmTimeoutMs: 5000 });
  return { store, clock };
}

const moveTo = (id: string, order: number): Command => ({ entityType: 'task', type: 'update-task', data: { id, order } });

describe('merging server messages', () => {
  it('merges snapshot and change messages by id', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { title: 'A' }), task('b', { title: 'B' })]);
    store.mergeServerTasks([task('b', { title: 'B2' }), task('c', { title: 'C' })]);
    expect([...store.tasks.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(store.tasks.get('b')?.title).toBe('B2');
    expect(store.tasks.get('a')?.title).toBe('A');
  });

  it('a later snapshot replaces earlier task states', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.mergeServerTasks([task('a', { order: 4, done: true })]);
    expect(store.tasks.get('a')).toMatchObject({ order: 4, done: true });
  });

  it('takes settings from the server', () => {
    const { store } = storeWithClock();
    store.setServerSettings({ tasksPerCategory: 7, showDoneTasks: true });
    expect(store.settings).toEqual({ tasksPerCategory: 7, showDoneTasks: true });
  });

  it('notifies subscribers and bumps the version', () => {
    const { store } = storeWithClock();
    let calls = 0;
    store.subscribe(() => (calls += 1));
    const before = store.version;
    store.mergeServerTasks([task('a')]);
    expect(calls).toBe(1);
    expect(store.version).toBe(before + 1);
  });
});

describe('optimistic changes', () => {
  it('shows a new task before the server has it', () => {
    const { store } = storeWithClock();
    store.addPending('k1', {
      entityType: 'task',
      type: 'create-task',
      data: { id: 'new', title: ' Buy milk ', category: 'fun', order: 0 },
    });
    expect(store.tasks.get('new')).toEqual({ id: 'new', title: 'Buy milk', notes: '', category: 'fun', order: 0, done: false });
  });

  it('applies pending changes in the order they were made', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.addPending('k2', moveTo('a', 5));
    expect(store.tasks.get('a')?.order).toBe(5);
  });

  it('moving a done task into a category reopens it', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { done: true, category: 'fun' })]);
    store.addPending('k1', { entityType: 'task', type: 'update-task', data: { id: 'a', category: 'normal', order: 0 } });
    expect(store.tasks.get('a')).toMatchObject({ category: 'normal', done: false });
  });

  it('completes and reopens', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a')]);
    store.addPending('k1', { entityType: 'task', type: 'complete-task', data: { id: 'a' } });
    expect(store.tasks.get('a')?.done).toBe(true);
    store.addPending('k2', { entityType: 'task', type: 'reopen-task', data: { id: 'a' } });
    expect(store.tasks.get('a')?.done).toBe(false);
  });

  it('shows settings changes at once', () => {
    const { store } = storeWithClock();
    store.addPending('k1', { entityType: 'user-settings', type: 'update-user-settings', data: { tasksPerCategory: 9 } });
    expect(store.settings.tasksPerCategory).toBe(9);
    expect(store.settings.showDoneTasks).toBe(false);
  });

  it('falls back to the server state when a change is discarded', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.discard('k1');
    expect(store.tasks.get('a')?.order).toBe(0);
  });
});

describe('reconciliation with the live stream', () => {
  it('a pending change wins over an older server state', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.markSent(['k1']);
    // Another tab's older change arrives before ours is acknowledged.
    store.mergeServerTasks([task('a', { order: 1 })]);
    expect(store.tasks.get('a')?.order).toBe(3);
    store.acknowledge(['k1']);
    expect(store.tasks.get('a')?.order).toBe(3);
    expect(store.pendingCount).toBe(1);
  });

  it('drops the change once acknowledged and confirmed by the stream', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.markSent(['k1']);
    store.acknowledge(['k1']);
    store.mergeServerTasks([task('a', { order: 3 })]);
    expect(store.pendingCount).toBe(0);
    // A later server change now shows, since nothing local overrides it.
    store.mergeServerTasks([task('a', { order: 7 })]);
    expect(store.tasks.get('a')?.order).toBe(7);
  });

  it('confirms at acknowledgement when the stream was faster than the 202', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.markSent(['k1']);
    store.mergeServerTasks([task('a', { order: 3 })]);
    expect(store.pendingCount).toBe(1);
    store.acknowledge(['k1']);
    expect(store.pendingCount).toBe(0);
  });

  it('does not confirm a change that was never acknowledged', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.mergeServerTasks([task('a', { order: 3 })]);
    store.mergeServerTasks([task('a', { order: 1 })]);
    expect(store.tasks.get('a')?.order).toBe(3);
    expect(store.pendingCount).toBe(1);
  });

  it('keeps a newer change after an older one is confirmed', () => {
    const { store } = storeWithClock();
    store.mergeServerTasks([task('a', { order: 0 })]);
    store.addPending('k1', moveTo('a', 3));
    store.addPending('k2', moveTo('a', 5));
    store.markSent(['k1', 'k2']);
    store.acknowledge(['k1', 'k2']);
    store.mergeServerTasks([task('a', { order: 3 })]);
    expect(store.tasks.get('a')?.order).toBe(5);
    store.mergeServerTasks([task('a', { order: 5 })]);
    expect(store.pendingCount).toBe(0);
  });

  it('confirms a created task when the server lists it', () => {
    const { store } = storeWithClock();
    store.addPending('k1', { entityType: 'task', type: 'create-task', data: { id: 'n', title: 'New', category: 'normal', order: 0 } });
    store.markSent(['k1']);
    store.acknowledge(['k1']);
    store.mergeServerTasks([task('n', { title: 'New' })]);
    expect(store.pendingCount).toBe(0);
    expect(store.tasks.get('n')?.title).toBe('New');
  });

  it('confirms settings changes from the stream', () => {
    const { store } = storeWithClock();
    store.addPending('k1', { entityType: 'user-settings', type: 'update-user-settings', data: { showDoneTasks: true } });
    store.markSent(['k1']);
    store.acknowledge(['k1']);
    store.setServerSettings({ tasksPerCategory: 3, showDoneTasks: true });
    expect(store.pendingCount).toBe(0);
  });

  it('expires acknowledged changes that the stream never confirms', () => {
    const { store, clock } = storeWithClock();
    store.mergeServerTasks([task('a', { done: true })]);
    store.addPending('k1', { entityType: 'task', type: 'complete-task', data: { id: 'a' } });
    store.markSent(['k1']);
    store.acknowledge(['k1']);
    clock.now = 4999;
    store.expireAcknowledged();
    expect(store.pendingCount).toBe(1);
    clock.now = 5001;
    store.expireAcknowledged();
    expect(store.pendingCount).toBe(0);
  });

  it('never expires changes that are not acknowledged', () => {
    const { store, clock } = storeWithClock();
    store.mergeServerTasks([task('a')]);
    store.addPending('k1', moveTo('a', 2));
    clock.now = 60_000;
    store.expireAcknowledged();
    expect(store.tasks.get('a')?.order).toBe(2);
  });
});
