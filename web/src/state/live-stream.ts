// The live stream (GET /stream, Server-Sent Events). Messages carry full task states or
// the settings; the board merges them by id.
//
// EventSource retries by itself after a dropped connection and then sends Last-Event-ID.
// When it gives up (an HTTP error such as 401 closes it for good), or when the access
// token changes, this class opens a new EventSource with back-off. A new EventSource
// cannot set Last-Event-ID, so the last seen id also goes in the `lastEventId` query
// parameter, which the server accepts as well.
import { backoffDelay, type BackoffPolicy } from './backoff';
import { normalizeSettings, normalizeTask, type Settings, type Task } from './types';

/** The part of the browser's EventSource this class uses. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(): void;
}

export const EVENT_SOURCE_CLOSED = 2;

export type StreamMessage = { kind: 'tasks'; tasks: Task[] } | { kind: 'settings'; settings: Settings };

/** Parses one message's data; returns null for anything this app does not know. */
export function parseStreamMessage(data: string, currentSettings: Settings): StreamMessage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const message = parsed as { entityType?: unknown; data?: unknown };
  if (message.entityType === 'task') {
    const items = Array.isArray(message.data) ? message.data : [message.data];
    const tasks = items.map(normalizeTask).filter((task): task is Task => task !== null);
    return { kind: 'tasks', tasks };
  }
  if (message.entityType === 'user-settings') {
    return { kind: 'settings', settings: normalizeSettings(message.data, currentSettings) };
  }
  return null;
}

export interface LiveStreamDeps {
  createEventSource(url: string): EventSourceLike;
  getToken(): string | null;
  onData(data: string): void;
  onConnectedChange(connected: boolean): void;
  /** Called before reopening a stream the browser closed for good; may renew the token. */
  beforeReopen?(): Promise<void>;
  schedule(callback: () => void, ms: number): () => void;
  random?: () => number;
  backoff?: BackoffPolicy;
  path?: string;
}

const STREAM_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

export class LiveStream {
  private source: EventSourceLike | null = null;
  private lastEventId: string | null = null;
  private failedAttempts = 0;
  private cancelReopen: (() => void) | null = null;
  private running = false;
  private connected = false;

  constructor(private readonly deps: LiveStreamDeps) {}

  get lastId(): string | null {
    return this.lastEventId;
  }

  start(): void {
    this.running = true;
    this.open();
  }

  stop(): void {
    this.running = false;
    this.cancelReopen?.();
    this.cancelReopen = null;
    this.closeSource();
    this.setConnected(false);
  }

  /** Opens a new connection now, for example with a renewed token. */
  restart(): void {
    if (!this.running) return;
    this.cancelReopen?.();
    this.cancelReopen = null;
    this.open();
  }

  /** Builds the stream URL with the token and, when known, the last seen event id. */
  buildUrl(token: string): string {
    const params = new URLSearchParams({ token });
    if (this.lastEventId !== null) params.set('lastEventId', this.lastEventId);
    return `${this.deps.path ?? '/stream'}?${params.toString()}`;
  }

  private open(): void {
    this.closeSource();
    const token = this.deps.getToken();
    if (!token) {
      this.setConnected(false);
      return;
    }
    const source = this.deps.createEventSource(this.buildUrl(token));
    this.source = source;
    source.onopen = () => {
      if (this.source !== source) return;
      this.failedAttempts = 0;
      this.setConnected(true);
    };
    source.onmessage = (event: MessageEvent) => {
      if (this.source !== source) return;
      if (event.lastEventId) this.lastEventId = event.lastEventId;
      this.setConnected(true);
      this.deps.onData(String(event.data));
    };
    source.onerror = () => {
      if (this.source !== source) return;
      this.setConnected(false);
      if (source.readyState === EVENT_SOURCE_CLOSED) this.scheduleReopen();
    };
  }

  private scheduleReopen(): void {
    this.closeSource();
    if (!this.running) return;
    const delay = backoffDelay(this.failedAttempts, this.deps.random ?? Math.random, this.deps.backoff ?? STREAM_BACKOFF);
    this.failedAttempts += 1;
    this.cancelReopen = this.deps.schedule(() => {
      this.cancelReopen = null;
      if (!this.running) return;
      const ready = this.deps.beforeReopen ? this.deps.beforeReopen().catch(() => undefined) : Promise.resolve();
      void ready.then(() => {
        if (this.running && this.source === null) this.open();
      });
    }, delay);
  }

  private closeSource(): void {
    if (!this.source) return;
    this.source.onopen = null;
    this.source.onmessage = null;
    this.source.onerror = null;
    this.source.close();
    this.source = null;
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    this.deps.onConnectedChange(connected);
  }
}
