// One signed-in session: loads the board, keeps it live, and sends the user's changes
// through the command queue. The UI reads `store` and `status` and calls `dispatch`.
import type { ApiClient } from './api';
import type { AuthClient } from './auth';
import { backoffDelay, type BackoffPolicy } from './backoff';
import { BoardStore } from './board-store';
import { CommandQueue, type RejectedCommand } from './command-queue';
import { newId } from './ids';
import { LiveStream, parseStreamMessage, type EventSourceLike } from './live-stream';
import { TabQueuePersistence, type KeyValueStorage } from './queue-storage';
import type { Command, QueuedCommand } from './types';

export const MARK_DATA_ARRIVED = 'prism:data-arrived';
export const MARK_BOARD_RENDERED = 'prism:board-rendered';
export const MEASURE_FIRST_RENDER = 'prism:first-render';

/** Storage key of the user id that `login-user` was last sent for, so a reload does not send it again. */
const SIGNED_IN_USER_KEY = 'prism.signedInUser';
const ADOPT_INTERVAL_MS = 15_000;
const HEARTBEAT_INTERVAL_MS = 5_000;
const EXPIRE_INTERVAL_MS = 1_000;
const MAX_NOTICES = 4;
const LOAD_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

export interface Notice {
  id: string;
  message: string;
}

export interface SessionStatus {
  phase: 'loading' | 'ready' | 'failed';
  loadError: string | null;
  /** Commands not yet accepted by the server. */
  pendingCount: number;
  /** True while the live stream is open. */
  streamConnected: boolean;
  /** True once the stream had been open, so "connection lost" is not shown while connecting. */
  streamEverConnected: boolean;
  browserOnline: boolean;
  /** The reason the queue is waiting, or null while it is not. */
  queueProblem: string | null;
  /** The queue needs a new sign-in before it can send. */
  needsSignIn: boolean;
  notices: Notice[];
}

export interface SessionDeps {
  api: ApiClient;
  auth: AuthClient;
  localStorage: KeyValueStorage;
  tabId: string;
  livenessCheck(): Promise<(tabId: string, heartbeat: number) => boolean>;
  createEventSource(url: string): EventSourceLike;
  /** Display name for `login-user` when the token has no `name` claim (local sign-up). */
  loginName?: string;
  /** Called when the server no longer accepts the session's token and it cannot be renewed. */
  onSignInRequired(): void;
}

type Listener = () => void;

export class Session {
  readonly store = new BoardStore();
  readonly queue: CommandQueue;
  readonly stream: LiveStream;
  private readonly persistence: TabQueuePersistence;
  private statusValue: SessionStatus;
  private listeners = new Set<Listener>();
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private loadRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private failedLoads = 0;
  private readonly onOnline = () => this.handleOnlineChange(true);
  private readonly onOffline = () => this.handleOnlineChange(false);

  constructor(
    private readonly deps: SessionDeps,
    readonly userId: string,
  ) {
    this.persistence = new TabQueuePersistence(deps.localStorage, userId, deps.tabId);
    this.queue = new CommandQueue({
      persistence: this.persistence,
      send: (batch) => deps.api.sendCommands(batch),
      schedule: (callback, ms) => {
        const timer = setTimeout(callback, ms);
        return () => clearTimeout(timer);
      },
      reauthenticate: () => this.reauthenticate(),
      onSent: (keys) => this.store.markSent(keys),
      onAcknowledged: (keys) => this.store.acknowledge(keys),
      onRejected: (rejection) => this.handleRejected(rejection),
      onChange: () => this.syncQueueStatus(),
    });
    this.stream = new LiveStream({
      createEventSource: (url) => deps.createEventSource(url),
      getToken: () => deps.auth.token(),
      onData: (data) => this.handleStreamData(data),
      onConnectedChange: (connected) =>
        this.updateStatus({
          streamConnected: connected,
          streamEverConnected: this.statusValue.streamEverConnected || connected,
        }),
      beforeReopen: async () => {
        // The browser gives up on a stream after an HTTP error such as 401: renew the
        // token first in case it expired.
        await deps.auth.refresh();
      },
      schedule: (callback, ms) => {
        const timer = setTimeout(callback, ms);
        return () => clearTimeout(timer);
      },
    });
    this.statusValue = {
      phase: 'loading',
      loadError: null,
      pendingCount: this.queue.pending.length,
      streamConnected: false,
      streamEverConnected: false,
      browserOnline: typeof navigator === 'undefined' ? true : navigator.onLine,
      queueProblem: null,
      needsSignIn: false,
      notices: [],
    };
    for (const command of this.queue.pending) this.addOverlay(command);
  }

  get status(): SessionStatus {
    return this.statusValue;
  }

  subscribeStatus(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads the board, opens the live stream and starts sending queued commands. */
  async start(): Promise<void> {
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.sendLoginIfNewUser();
    await this.adoptOrphanQueues();
    this.timers.push(setInterval(() => void this.adoptOrphanQueues(), ADOPT_INTERVAL_MS));
    this.timers.push(setInterval(() => this.persistence.heartbeat(), HEARTBEAT_INTERVAL_MS));
    this.timers.push(setInterval(() => this.store.expireAcknowledged(), EXPIRE_INTERVAL_MS));
    this.scheduleTokenRefresh();
    this.queue.retryNow();
    await this.load();
  }

  /**
   * Loads all tasks and the settings, then opens the live stream. A failure other than
   * 401 is retried with back-off; the UI also offers an immediate retry.
   */
  async load(): Promise<void> {
    if (this.loadRetryTimer) clearTimeout(this.loadRetryTimer);
    this.loadRetryTimer = null;
    this.updateStatus({ phase: 'loading', loadError: null });
    try {
      const [tasks, settings] = await Promise.all([this.deps.api.loadAllTasks(), this.deps.api.getSettings()]);
      performance.mark(MARK_DATA_ARRIVED);
      this.store.setServerSettings(settings);
      this.store.mergeServerTasks(tasks);
      this.failedLoads = 0;
      this.updateStatus({ phase: 'ready' });
      this.stream.start();
    } catch (error) {
      const status = (error as { status?: number }).status;
      const message = error instanceof Error ? error.message : String(error);
      console.warn('prism: loading the board failed', message);
      this.updateStatus({ phase: 'failed', loadError: `Loading your board failed (${message}). Retrying…` });
      if (status === 401) {
        this.deps.onSignInRequired();
        return;
      }
      const delay = backoffDelay(this.failedLoads, Math.random, LOAD_BACKOFF);
      this.failedLoads += 1;
      this.loadRetryTimer = setTimeout(() => void this.load(), delay);
    }
  }

  /** Shows commands on the board at once and queues them for the server, in order. */
  dispatch(commands: readonly Command[]): void {
    const entries = commands.map((command) => ({ command, key: newId() }));
    for (const { command, key } of entries) {
      if (command.entityType !== 'user') this.store.addPending(key, command);
    }
    this.queue.enqueue(entries);
  }

  dismissNotice(id: string): void {
    this.updateStatus({ notices: this.statusValue.notices.filter((notice) => notice.id !== id) });
  }

  /** Sends `logout-user`, waits briefly for the queue to empty, then signs out. */
  async signOut(): Promise<void> {
    this.dispatch([{ entityType: 'user', type: 'logout-user' }]);
    await this.queue.drain(3000);
    this.deps.localStorage.removeItem(SIGNED_IN_USER_KEY);
    this.stop();
    await this.deps.auth.signOut();
    this.store.clear();
  }

  /** Stops timers, the stream and the queue; queued commands stay persisted. */
  stop(): void {
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (this.loadRetryTimer) clearTimeout(this.loadRetryTimer);
    this.loadRetryTimer = null;
    this.stream.stop();
    this.queue.stop();
  }

  /** Called after the user signed in again (for example after a 401 in test mode). */
  resumeAfterSignIn(): void {
    this.updateStatus({ needsSignIn: false });
    this.scheduleTokenRefresh();
    this.stream.restart();
    this.queue.retryNow();
  }

  private sendLoginIfNewUser(): void {
    if (this.deps.localStorage.getItem(SIGNED_IN_USER_KEY) === this.userId) return;
    const identity = this.deps.auth.identity();
    const data: { name?: string; email?: string } = {};
    const name = this.deps.loginName ?? identity?.name;
    if (name) data.name = name;
    if (identity?.email) data.email = identity.email;
    this.dispatch([{ entityType: 'user', type: 'login-user', data }]);
    this.deps.localStorage.setItem(SIGNED_IN_USER_KEY, this.userId);
  }

  private async adoptOrphanQueues(): Promise<void> {
    try {
      const isAlive = await this.deps.livenessCheck();
      const orphans = this.persistence.takeOrphans(isAlive);
      if (orphans.length === 0) return;
      for (const command of orphans) this.addOverlay(command);
      this.queue.adopt(orphans);
    } catch (error) {
      console.warn('prism: checking for queues of closed tabs failed', error);
    }
  }

  private addOverlay(command: QueuedCommand): void {
    if (command.entityType !== 'user') this.store.addPending(command.idempotencyKey, command);
  }

  private handleStreamData(data: string): void {
    const message = parseStreamMessage(data, this.store.settings);
    if (!message) return;
    if (message.kind === 'tasks') this.store.mergeServerTasks(message.tasks);
    else this.store.setServerSettings(message.settings);
  }

  private handleRejected(rejection: RejectedCommand): void {
    this.store.discard(rejection.command.idempotencyKey);
    const notice: Notice = {
      id: newId(),
      message: `A change was not saved (${rejection.command.type}): ${rejection.message || `HTTP ${rejection.status}`}`,
    };
    this.updateStatus({ notices: [...this.statusValue.notices, notice].slice(-MAX_NOTICES) });
  }

  private async reauthenticate(): Promise<boolean> {
    const renewed = await this.deps.auth.refresh();
    if (renewed) {
      this.stream.restart();
      this.scheduleTokenRefresh();
    } else {
      this.updateStatus({ needsSignIn: true });
      this.deps.onSignInRequired();
    }
    return renewed;
  }

  /** Renews the access token a minute before it expires, for clients that report `expiresAt` (local and OIDC). */
  private scheduleTokenRefresh(): void {
    const expiresAt = (this.deps.auth as { expiresAt?: number }).expiresAt;
    if (!expiresAt) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const delay = Math.max(5_000, expiresAt - Date.now() - 60_000);
    this.refreshTimer = setTimeout(() => {
      void this.deps.auth.refresh().then((renewed) => {
        if (renewed) {
          this.stream.restart();
          this.scheduleTokenRefresh();
        }
      });
    }, delay);
  }

  private handleOnlineChange(online: boolean): void {
    this.updateStatus({ browserOnline: online });
    if (online) {
      this.queue.retryNow();
      this.stream.restart();
    }
  }

  private syncQueueStatus(): void {
    this.updateStatus({
      pendingCount: this.queue.pending.length,
      queueProblem: this.queue.state === 'waiting-to-retry' ? this.queue.lastError : null,
    });
  }

  private updateStatus(patch: Partial<SessionStatus>): void {
    this.statusValue = { ...this.statusValue, ...patch };
    for (const listener of this.listeners) listener();
  }
}
