// Persistence of the command queue in localStorage, one entry per browser tab.
//
// Tabs of the same user must not overwrite each other's queue, so each tab writes its
// own key, `prism.queue.<user>.<tab>`. The tab id lives in sessionStorage, which survives
// a reload of that tab. The next tab of the same user adopts the queue of a closed tab,
// so no change is lost. The idempotency keys stay the same, so a command that the closed
// tab had already delivered is not applied twice.
import type { QueuedCommand } from './types';
import type { QueuePersistence } from './command-queue';

/** The subset of the Web Storage API this module uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  readonly length: number;
  key(index: number): string | null;
}

interface StoredQueue {
  /** Last time the owning tab was known to be alive, in Unix milliseconds. */
  heartbeat: number;
  commands: QueuedCommand[];
}

const PREFIX = 'prism.queue.';

export function queueKey(userId: string, tabId: string): string {
  return `${PREFIX}${encodeURIComponent(userId)}.${tabId}`;
}

function parseStoredQueue(text: string | null): StoredQueue | null {
  if (!text) return null;
  try {
    const parsed = JSON.parse(text) as Partial<StoredQueue>;
    if (!Array.isArray(parsed.commands)) return null;
    const commands = parsed.commands.filter(
      (command): command is QueuedCommand =>
        typeof command === 'object' &&
        command !== null &&
        typeof (command as QueuedCommand).idempotencyKey === 'string' &&
        typeof (command as QueuedCommand).type === 'string',
    );
    return { heartbeat: typeof parsed.heartbeat === 'number' ? parsed.heartbeat : 0, commands };
  } catch {
    return null;
  }
}

export class TabQueuePersistence implements QueuePersistence {
  private readonly key: string;
  private commands: readonly QueuedCommand[] = [];

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly userId: string,
    readonly tabId: string,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.key = queueKey(userId, tabId);
  }

  load(): QueuedCommand[] {
    const stored = parseStoredQueue(this.storage.getItem(this.key));
    this.commands = stored?.commands ?? [];
    return [...this.commands];
  }

  save(commands: readonly QueuedCommand[]): void {
    this.commands = commands;
    this.write();
  }

  /** Marks this tab's queue as alive; call it periodically. */
  heartbeat(): void {
    if (this.commands.length > 0) this.write();
  }

  /**
   * Removes and returns the commands of this user's other queues whose tabs are gone.
   * `isTabAlive` decides; without a better signal, a heartbeat older than `staleAfterMs`
   * marks a tab as gone.
   */
  takeOrphans(isTabAlive: (tabId: string, heartbeat: number) => boolean): QueuedCommand[] {
    const ownPrefix = `${PREFIX}${encodeURIComponent(this.userId)}.`;
    const orphanKeys: string[] = [];
    for (let i = 0; i < this.storage.length; i += 1) {
      const key = this.storage.key(i);
      if (key && key.startsWith(ownPrefix) && key !== this.key) orphanKeys.push(key);
    }
    const adopted: QueuedCommand[] = [];
    for (const key of orphanKeys) {
      const stored = parseStoredQueue(this.storage.getItem(key));
      const tabId = key.slice(ownPrefix.length);
      if (stored && isTabAlive(tabId, stored.heartbeat)) continue;
      this.storage.removeItem(key);
      if (stored) adopted.push(...stored.commands);
    }
    return adopted;
  }

  private write(): void {
    try {
      if (this.commands.length === 0) {
        this.storage.removeItem(this.key);
        return;
      }
      const record: StoredQueue = { heartbeat: this.now(), commands: [...this.commands] };
      this.storage.setItem(this.key, JSON.stringify(record));
    } catch (error) {
      // A full or blocked localStorage keeps the queue in memory only for this page.
      console.warn('prism: could not persist the command queue', error);
    }
  }
}

/** Returns true when a heartbeat is recent enough to assume its tab is still open. */
export function heartbeatIsFresh(heartbeat: number, now: number, staleAfterMs: number): boolean {
  return now - heartbeat < staleAfterMs;
}
