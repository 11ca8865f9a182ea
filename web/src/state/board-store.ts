// The board's state: the last server state (from the initial load and the live stream)
// plus the local changes not confirmed yet, applied on top in the order they were made.
import { applySettingsCommand, applyTaskCommand, sameSettings, sameTask, taskIdOf } from './apply-command';
import { DEFAULT_SETTINGS, type Command, type Settings, type Task } from './types';

/** A local change shown before the server confirms it. */
interface PendingChange {
  key: string;
  command: Command;
  /** Set while a request carrying the command is in flight or after it was sent. */
  sent: boolean;
  /** Time of the 202 for the command, in milliseconds (from `now`). */
  acknowledgedAt?: number;
  /** True when the latest server state seen since sending already reflects the command. */
  reflected: boolean;
}

export interface BoardStoreOptions {
  now?: () => number;
  /**
   * How long an acknowledged change keeps winning when no server state confirms it, in
   * milliseconds. Commands that change nothing (completing a done task) produce no
   * live message, so their change is dropped after this time.
   */
  confirmTimeoutMs?: number;
}

type Listener = () => void;

export class BoardStore {
  private readonly serverTasks = new Map<string, Task>();
  private serverSettings: Settings = DEFAULT_SETTINGS;
  private pending: PendingChange[] = [];
  private listeners = new Set<Listener>();
  private viewTasks: Map<string, Task> | null = null;
  private viewSettings: Settings | null = null;
  private readonly now: () => number;
  private readonly confirmTimeoutMs: number;
  /** Increases with every change of the view, so the UI can tell when to re-render. */
  version = 0;

  constructor(options: BoardStoreOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 5000;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The tasks as the user should see them: server state with pending changes applied. */
  get tasks(): ReadonlyMap<string, Task> {
    if (!this.viewTasks) this.viewTasks = this.computeTasks();
    return this.viewTasks;
  }

  get settings(): Settings {
    if (!this.viewSettings) {
      this.viewSettings = this.pending.reduce(
        (settings, change) => applySettingsCommand(settings, change.command),
        this.serverSettings,
      );
    }
    return this.viewSettings;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Merges full task states from the server by id (the initial load, a snapshot or a change). */
  mergeServerTasks(tasks: Task[]): void {
    if (tasks.length === 0) return;
    const touched = new Set<string>();
    for (const task of tasks) {
      this.serverTasks.set(task.id, task);
      touched.add(task.id);
    }
    for (const change of this.pending) {
      const id = taskIdOf(change.command);
      if (id !== undefined && touched.has(id)) this.noteServerState(change);
    }
    this.confirmReflected();
    this.changed();
  }

  setServerSettings(settings: Settings): void {
    this.serverSettings = settings;
    for (const change of this.pending) {
      if (change.command.type === 'update-user-settings') this.noteServerState(change);
    }
    this.confirmReflected();
    this.changed();
  }

  addPending(key: string, command: Command): void {
    this.pending.push({ key, command, sent: false, reflected: false });
    this.changed();
  }

  /** Records that requests carrying these commands went out. */
  markSent(keys: readonly string[]): void {
    const sent = new Set(keys);
    for (const change of this.pending) {
      if (sent.has(change.key) && !change.sent) {
        change.sent = true;
        change.reflected = false;
      }
    }
  }

  /**
   * Records the server's 202 for these commands. A change is confirmed at once when the
   * server state already showed its effect after it was sent. The others wait for the
   * live stream or for the confirmation timeout.
   */
  acknowledge(keys: readonly string[]): void {
    const acknowledged = new Set(keys);
    const time = this.now();
    for (const change of this.pending) {
      if (acknowledged.has(change.key)) {
        change.sent = true;
        change.acknowledgedAt = time;
      }
    }
    this.confirmReflected();
    this.changed();
  }

  /** Drops a change the server rejected, so the board falls back to the server state. */
  discard(key: string): void {
    const before = this.pending.length;
    this.pending = this.pending.filter((change) => change.key !== key);
    if (this.pending.length !== before) this.changed();
  }

  /** Drops acknowledged changes that no server state confirmed within the timeout. */
  expireAcknowledged(): void {
    const limit = this.now() - this.confirmTimeoutMs;
    const before = this.pending.length;
    this.pending = this.pending.filter(
      (change) => change.acknowledgedAt === undefined || change.acknowledgedAt > limit,
    );
    if (this.pending.length !== before) this.changed();
  }

  /** Forgets everything (used when the user signs out). */
  clear(): void {
    this.serverTasks.clear();
    this.serverSettings = DEFAULT_SETTINGS;
    this.pending = [];
    this.changed();
  }

  private noteServerState(change: PendingChange): void {
    if (!change.sent) return;
    change.reflected = this.isReflected(change.command);
  }

  private isReflected(command: Command): boolean {
    if (command.type === 'update-user-settings') {
      return sameSettings(applySettingsCommand(this.serverSettings, command), this.serverSettings);
    }
    const id = taskIdOf(command);
    if (id === undefined) return true;
    const server = this.serverTasks.get(id);
    if (!server) return false;
    return sameTask(applyTaskCommand(server, command), server);
  }

  private confirmReflected(): void {
    this.pending = this.pending.filter((change) => !(change.acknowledgedAt !== undefined && change.reflected));
  }

  private computeTasks(): Map<string, Task> {
    if (this.pending.length === 0) return this.serverTasks;
    const view = new Map(this.serverTasks);
    for (const change of this.pending) {
      const id = taskIdOf(change.command);
      if (id === undefined) continue;
      const next = applyTaskCommand(view.get(id), change.command);
      if (next) view.set(id, next);
    }
    return view;
  }

  private changed(): void {
    this.viewTasks = null;
    this.viewSettings = null;
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}
