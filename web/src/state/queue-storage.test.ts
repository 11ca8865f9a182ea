import { describe, expect, it } from 'vitest';
import { heartbeatIsFresh, queueKey, TabQueuePersistence } from './queue-storage';
import { MemoryStorage } from './test-support';
import type { QueuedCommand } from './types';

const command = (key: string): QueuedCommand => ({
  entityType: 'task',
  type: 'complete-task',
  data: { id: `task-${key}` },
  idempotencyKey: key,
});

describe('per-tab queue persistence', () => {
  it('round-trips commands through storage', () => {
    const storage = new MemoryStorage();
    new TabQueuePersistence(storage, 'user-1', 'tab-a').save([command('k1'), command('k2')]);
    const reloaded = new TabQueuePersistence(storage, 'user-1', 'tab-a').load();
    expect(reloaded.map((c) => c.idempotencyKey)).toEqual(['k1', 'k2']);
  });

  it('keeps tabs of one user apart', () => {
    const storage = new MemoryStorage();
    new TabQueuePersistence(storage, 'user-1', 'tab-a').save([command('a1')]);
    new TabQueuePersistence(storage, 'user-1', 'tab-b').save([command('b1')]);
    expect(new TabQueuePersistence(storage, 'user-1', 'tab-a').load().map((c) => c.idempotencyKey)).toEqual(['a1']);
    expect(new TabQueuePersistence(storage, 'user-1', 'tab-b').load().map((c) => c.idempotencyKey)).toEqual(['b1']);
  });

  it('removes the key when the queue empties', () => {
    const storage = new MemoryStorage();
    const persistence = new TabQueuePersistence(storage, 'user-1', 'tab-a');
    persistence.save([command('k1')]);
    persistence.save([]);
    expect(storage.getItem(queueKey('user-1', 'tab-a'))).toBeNull();
  });

  it('ignores corrupt stored data', () => {
    const storage = new MemoryStorage();
    storage.setItem(queueKey('user-1', 'tab-a'), '{not json');
    expect(new TabQueuePersistence(storage, 'user-1', 'tab-a').load()).toEqual([]);
  });

  it('adopts queues of closed tabs only', () => {
    const storage = new MemoryStorage();
    new TabQueuePersistence(storage, 'user-1', 'closed').save([command('c1')]);
    new TabQueuePersistence(storage, 'user-1', 'open').save([command('o1')]);
    new TabQueuePersistence(storage, 'user-2', 'closed').save([command('other-user')]);
    const mine = new TabQueuePersistence(storage, 'user-1', 'me');
    const adopted = mine.takeOrphans((tabId) => tabId === 'open');
    expect(adopted.map((c) => c.idempotencyKey)).toEqual(['c1']);
    expect(storage.getItem(queueKey('user-1', 'closed'))).toBeNull();
    expect(storage.getItem(queueKey('user-1', 'open'))).not.toBeNull();
    expect(storage.getItem(queueKey('user-2', 'closed'))).not.toBeNull();
  });

  it('judges liveness by heartbeat age without Web Locks', () => {
    expect(heartbeatIsFresh(1000, 20_000, 30_000)).toBe(true);
    expect(heartbeatIsFresh(1000, 40_000, 30_000)).toBe(false);
  });

  it('writes a heartbeat time with the queue', () => {
    const storage = new MemoryStorage();
    let now = 100;
    const persistence = new TabQueuePersistence(storage, 'user-1', 'tab-a', () => now);
    persistence.save([command('k1')]);
    now = 900;
    persistence.heartbeat();
    const stored = JSON.parse(storage.getItem(queueKey('user-1', 'tab-a'))!);
    expect(stored.heartbeat).toBe(900);
  });
});
