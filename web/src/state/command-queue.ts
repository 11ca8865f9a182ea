// The resilient command queue. Commands wait in a persisted list and go to
// POST /api/commands in batches, one request at a time, so the server receives them in
// the order the user made them. They are retried with the same idempotency keys until
// the server accepts them with 202.
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, type BackoffPolicy } from './backoff';
import { newId } from './ids';
import type { Command, QueuedCommand } from './types';

/** The result of one POST /api/commands: an HTTP response, or a failure to reach the server. */
export type SendOutcome =
  | { kind: 'response'; status: number; body: string; retryAfter: string | null }
  | { kind: 'network-error'; error: unknown };

export interface QueuePersistence {
  load(): QueuedCommand[];
  save(commands: readonly QueuedCommand[]): void;
}

export interface RejectedCommand {
  command: QueuedCommand;
  status: number;
  message: string;
}

export interface CommandQueueDeps {
  send(batch: readonly QueuedCommand[]): Promise<SendOutcome>;
  persistence: QueuePersistence;
  /** Schedules `callback` after `ms` milliseconds and returns a function that cancels it. */
  schedule(callback: () => void, ms: number): () => void;
  random?: () => number;
  now?: () => number;
  /** Returns true when a new access token was obtained, so the batch can be retried. */
  reauthenticate(): Promise<boolean>;
  onSent?(keys: readonly string[]): void;
  onAcknowledged?(keys: readonly string[]): void;
  onRejected?(rejection: RejectedCommand): void;
  /** Called after every change of the queue's contents or state. */
  onChange?(): void;
  maxBatchCommands?: number;
  /** Upper bound of a request body in bytes; the server takes at most 64 KiB. */
  maxBatchBytes?: number;
  backoff?: BackoffPolicy;
}

export type QueueState = 'idle' | 'sending' | 'waiting-to-retry' | 'waiting-for-sign-in' | 'stopped';

const DEFAULT_MAX_BATCH_COMMANDS = 50;
const DEFAULT_MAX_BATCH_BYTES = 60 * 1024;

export class CommandQueue {
  private commands: QueuedCommand[];
  private stateValue: QueueState = 'idle';
  private failedAttempts = 0;
  private renewedTokenForThisBatch = false;
  private batchLimit: number;
  private cancelRetry: (() => void) | null = null;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly maxBatchCommands: number;
  private readonly maxBatchBytes: number;
  private readonly backoff: BackoffPolicy;
  /** The last failure that made the queue wait, for the status line. */
  lastError: string | null = null;

  constructor(private readonly deps: CommandQueueDeps) {
    this.commands = deps.persistence.load();
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? (() => Date.now());
    this.maxBatchCommands = deps.maxBatchCommands ?? DEFAULT_MAX_BATCH_COMMANDS;
    this.maxBatchBytes = deps.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.batchLimit = this.maxBatchCommands;
  }

  get state(): QueueState {
    return this.stateValue;
  }

  /** Commands not yet accepted by the server, oldest first. */
  get pending(): readonly QueuedCommand[] {
    return this.commands;
  }

  /**
   * Adds commands, each with its idempotency key (a new one unless given), persists them
   * and starts sending. Commands enqueued together go out in one batch when they fit.
   */
  enqueue(entries: ReadonlyArray<{ command: Command; key?: string }>): QueuedCommand[] {
    const queued = entries.map(
      ({ command, key }) => ({ ...command, idempotencyKey: key ?? newId() }) as QueuedCommand,
    );
    if (queued.length === 0) return queued;
    this.commands.push(...queued);
    this.persist();
    this.changed();
    this.kick();
    return queued;
  }

  /** Adds commands that already have keys (taken over from another tab's queue). */
  adopt(commands: readonly QueuedCommand[]): void {
    const known = new Set(this.commands.map((command) => command.idempotencyKey));
    const fresh = commands.filter((command) => !known.has(command.idempotencyKey));
    if (fresh.length === 0) return;
    this.commands.push(...fresh);
    this.persist();
    this.changed();
    this.kick();
  }

  /** Starts sending now if the queue is idle or waiting for a retry (for example when the browser goes online). */
  retryNow(): void {
    if (this.stateValue === 'waiting-to-retry' || this.stateValue === 'waiting-for-sign-in') {
      this.cancelRetry?.();
      this.cancelRetry = null;
      this.stateValue = 'idle';
    }
    this.kick();
  }

  /** Stops sending; the persisted commands stay for the next start. */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.stateValue = 'stopped';
    this.changed();
  }

  /** Resolves when the queue is empty, or after `timeoutMs`. Returns whether it emptied. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = this.now() + timeoutMs;
    while (this.commands.length > 0 && this.now() < deadline) {
      await new Promise<void>((resolve) => this.deps.schedule(resolve, 50));
    }
    return this.commands.length === 0;
  }

  private kick(): void {
    if (this.stateValue !== 'idle' || this.commands.length === 0) return;
    void this.sendLoop();
  }

  private async sendLoop(): Promise<void> {
    this.stateValue = 'sending';
    this.changed();
    while (this.commands.length > 0 && this.stateValue === 'sending') {
      const batch = this.nextBatch();
      this.deps.onSent?.(batch.map((command) => command.idempotencyKey));
      const outcome = await this.deps.send(batch);
      if (this.stateValue !== 'sending') return;
      const next = await this.handleOutcome(batch, outcome);
      if (next === 'wait') return;
    }
    if (this.stateValue === 'sending') this.stateValue = 'idle';
    this.changed();
  }

  private nextBatch(): QueuedCommand[] {
    const batch: QueuedCommand[] = [];
    let bytes = 2;
    for (const command of this.commands) {
      if (batch.length >= this.batchLimit) break;
      const size = new TextEncoder().encode(JSON.stringify(command)).length + 1;
      if (batch.length > 0 && bytes + size > this.maxBatchBytes) break;
      batch.push(command);
      bytes += size;
    }
    return batch;
  }

  private async handleOutcome(batch: QueuedCommand[], outcome: SendOutcome): Promise<'continue' | 'wait'> {
    if (outcome.kind === 'network-error') {
      this.waitToRetry(null, 'network error: the server could not be reached');
      return 'wait';
    }
    const { status } = outcome;
    if (status === 202 || status === 200) {
      this.accept(batch);
      return 'continue';
    }
    if (status === 400) {
      this.rejectInvalid(batch, outcome.body);
      return 'continue';
    }
    if (status === 413) {
      this.splitTooLarge(batch, outcome.body);
      return 'continue';
    }
    if (status === 401) return this.handleUnauthorized();
    // 503, 429, other 5xx and unexpected statuses: keep the commands and retry later.
    this.waitToRetry(outcome.retryAfter, `server answered ${status}`);
    return 'wait';
  }

  private accept(batch: QueuedCommand[]): void {
    const keys = new Set(batch.map((command) => command.idempotencyKey));
    this.commands = this.commands.filter((command) => !keys.has(command.idempotencyKey));
    this.failedAttempts = 0;
    this.renewedTokenForThisBatch = false;
    this.lastError = null;
    if (this.commands.length === 0) this.batchLimit = this.maxBatchCommands;
    this.persist();
    this.deps.onAcknowledged?.([...keys]);
    this.changed();
  }

  /**
   * Drops the command a 400 names ("command N: …", N counting from 0 within the batch).
   * When the message names none, the batch is halved until the invalid command is alone.
   */
  private rejectInvalid(batch: QueuedCommand[], body: string): void {
    const message = errorMessageOf(body);
    const match = /command (\d+)/.exec(message);
    const index = match ? Number(match[1]) : -1;
    if (index >= 0 && index < batch.length) {
      this.drop(batch[index], 400, message);
    } else if (batch.length > 1) {
      this.batchLimit = Math.max(1, Math.floor(batch.length / 2));
    } else {
      this.drop(batch[0], 400, message);
    }
  }

  private splitTooLarge(batch: QueuedCommand[], body: string): void {
    if (batch.length > 1) {
      this.batchLimit = Math.max(1, Math.floor(batch.length / 2));
      return;
    }
    this.drop(batch[0], 413, errorMessageOf(body) || 'command too large');
  }

  private drop(command: QueuedCommand, status: number, message: string): void {
    this.commands = this.commands.filter((entry) => entry.idempotencyKey !== command.idempotencyKey);
    this.persist();
    this.deps.onRejected?.({ command, status, message });
    this.changed();
  }

  private async handleUnauthorized(): Promise<'continue' | 'wait'> {
    const renewed = await this.deps.reauthenticate().catch(() => false);
    if (this.stateValue !== 'sending') return 'wait';
    if (renewed) {
      // A second 401 in a row with a fresh token waits with back-off instead of looping.
      if (this.renewedTokenForThisBatch) {
        this.waitToRetry(null, 'the server rejected the new access token');
        return 'wait';
      }
      this.renewedTokenForThisBatch = true;
      return 'continue';
    }
    this.stateValue = 'waiting-for-sign-in';
    this.lastError = 'sign in again to send your changes';
    this.changed();
    return 'wait';
  }

  private waitToRetry(retryAfter: string | null, reason: string): void {
    const requested = parseRetryAfter(retryAfter, this.now());
    const jitter = backoffDelay(this.failedAttempts, this.random, this.backoff);
    const delay = requested !== undefined ? requested + Math.floor(this.random() * this.backoff.baseMs) : jitter;
    this.failedAttempts += 1;
    this.lastError = reason;
    this.stateValue = 'waiting-to-retry';
    this.cancelRetry = this.deps.schedule(() => {
      this.cancelRetry = null;
      if (this.stateValue !== 'waiting-to-retry') return;
      this.stateValue = 'idle';
      this.kick();
    }, delay);
    this.changed();
  }

  private persist(): void {
    this.deps.persistence.save(this.commands);
  }

  private changed(): void {
    this.deps.onChange?.();
  }
}

/** Extracts the message of an error body, which is plain text or {"error": "..."}. */
export function errorMessageOf(body: string): string {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { error?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
    } catch {
      // Not JSON after all: use the text as it is.
    }
  }
  return trimmed;
}
