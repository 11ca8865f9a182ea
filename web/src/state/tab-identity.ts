// A stable id for this browser tab, and a check of whether another tab is still open, so
// that tabs write separate queue keys and queues of closed tabs get adopted.
// NOTE: without the Web Locks API (pages served over plain HTTP on a non-loopback
// address), a duplicated tab keeps its original's id, and the two tabs then overwrite
// each other's persisted queue. Each tab still sends what it holds in memory, but a
// change not yet sent when one of them reloads or closes can be lost.
import { newId } from './ids';
import { heartbeatIsFresh } from './queue-storage';

const TAB_ID_KEY = 'prism.tabId';
const LOCK_PREFIX = 'prism.tab.';
/** Without Web Locks, a queue whose heartbeat is older than this is taken as abandoned. */
export const HEARTBEAT_STALE_MS = 30_000;

export interface TabIdentity {
  tabId: string;
  /** Returns a predicate that reports whether the tab with an id and a heartbeat is still open. */
  livenessCheck(): Promise<(tabId: string, heartbeat: number) => boolean>;
}

let claimed: Promise<TabIdentity> | null = null;

/**
 * Claims a tab id, once per page: later calls (a new sign-in) return the same identity.
 * The id is kept in sessionStorage, so a reload keeps it. With the Web Locks API (secure
 * contexts only) the tab holds a lock named after its id for as long as it is open. A
 * duplicated tab, which inherits the sessionStorage, finds the lock taken and picks a new
 * id, and a lock that no tab holds marks a closed tab.
 */
export function claimTabIdentity(sessionStorage: Storage): Promise<TabIdentity> {
  claimed ??= claim(sessionStorage);
  return claimed;
}

async function claim(sessionStorage: Storage): Promise<TabIdentity> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  let tabId = sessionStorage.getItem(TAB_ID_KEY) ?? newId();

  if (locks) {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (await holdLock(locks, LOCK_PREFIX + tabId)) break;
      tabId = newId();
    }
  }
  sessionStorage.setItem(TAB_ID_KEY, tabId);

  return {
    tabId,
    async livenessCheck() {
      const now = Date.now();
      if (!locks) return (_id, heartbeat) => heartbeatIsFresh(heartbeat, now, HEARTBEAT_STALE_MS);
      const snapshot = await locks.query();
      const held = new Set((snapshot.held ?? []).map((lock) => lock.name));
      return (id) => held.has(LOCK_PREFIX + id);
    },
  };
}

/** Takes a lock and keeps it until the page goes away; resolves false if another tab has it. */
function holdLock(locks: LockManager, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    void locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      resolve(true);
      // Never settles, so the lock is held for the lifetime of the page.
      return new Promise<void>(() => undefined);
    });
  });
}
