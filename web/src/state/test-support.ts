// Helpers for unit tests: a hand-driven clock and scheduler, and an in-memory storage.
import type { KeyValueStorage } from './queue-storage';
import type { Task } from './types';

interface Timer {
  at: number;
  callback: () => void;
  id: number;
}

/** A scheduler whose time moves only when a test calls `advance`. */
export class ManualClock {
  now = 0;
  private timers: Timer[] = [];
  private nextId = 1;
  /** Every delay passed to `schedule`, in order, so tests can check back-off. */
  readonly delays: number[] = [];

  schedule = (callback: () => void, ms: number): (() => void) => {
    const timer = { at: this.now + ms, callback, id: this.nextId++ };
    this.delays.push(ms);
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((entry) => entry.id !== timer.id);
    };
  };

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward, running due timers in order, and lets promises settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      await flushPromises();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.now = next.at;
      next.callback();
    }
    this.now = target;
    await flushPromises();
  }
}

export async function flushPromises(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

export class MemoryStorage implements KeyValueStorage {
  private readonly data = new Map<string, string>();

  get length(): number {
    return this.data.size;
  }

  key(index: number): string | null {
    return [...this.data.keys()][index] ?? null;
  }

  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }

  removeItem(key: string): void {
    this.data.delete(key);
  }
}

export function task(id: string, fields: Partial<Task> = {}): Task {
  return { id, title: `Task ${id}`, notes: '', category: 'normal', order: 0, done: false, ...fields };
}
