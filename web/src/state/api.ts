// HTTP calls to the Prism Plan API, on the same origin as the page.
import type { SendOutcome } from './command-queue';
import { normalizeSettings, normalizeTask, type QueuedCommand, type Settings, type Task } from './types';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface TokenSource {
  token(): string | null;
  /** Renews the access token; returns false when the user must sign in again. */
  refresh(): Promise<boolean>;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Page size for loading the board; the server treats larger values as 1000. */
export const TASK_PAGE_SIZE = 1000;
/** A request that takes longer than this counts as a network failure, in milliseconds. */
const COMMAND_TIMEOUT_MS = 20_000;
/** Stops a page walk that never ends (a server that keeps returning tokens). */
const MAX_PAGES = 10_000;

export class ApiClient {
  constructor(
    private readonly auth: TokenSource,
    private readonly fetchFn: FetchFn = (input, init) => fetch(input, init),
  ) {}

  /** Sends an authorised request; on 401 renews the token once and repeats the request. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let response = await this.fetchFn(path, this.withToken(init));
    if (response.status === 401 && (await this.auth.refresh())) {
      response = await this.fetchFn(path, this.withToken(init));
    }
    return response;
  }

  /** Loads every task by walking GET /api/tasks with page tokens until none is returned. */
  async loadAllTasks(pageSize = TASK_PAGE_SIZE): Promise<Task[]> {
    const tasks: Task[] = [];
    let pageToken: string | undefined;
    const seenTokens = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const params = new URLSearchParams({ pageSize: String(pageSize) });
      if (pageToken) params.set('pageToken', pageToken);
      const response = await this.request(`/api/tasks?${params.toString()}`);
      if (!response.ok) throw await httpErrorOf(response, 'loading tasks');
      const body = (await response.json()) as { tasks?: unknown[]; nextPageToken?: unknown };
      for (const raw of body.tasks ?? []) {
        const task = normalizeTask(raw);
        if (task) tasks.push(task);
      }
      if (typeof body.nextPageToken !== 'string' || body.nextPageToken === '') return tasks;
      if (seenTokens.has(body.nextPageToken)) {
        throw new Error(`loading tasks failed: page token ${body.nextPageToken} was returned twice`);
      }
      seenTokens.add(body.nextPageToken);
      pageToken = body.nextPageToken;
    }
    throw new Error(`loading tasks failed: more than ${MAX_PAGES} pages`);
  }

  async getSettings(): Promise<Settings> {
    const response = await this.request('/api/settings');
    if (!response.ok) throw await httpErrorOf(response, 'loading settings');
    return normalizeSettings(await response.json());
  }

  /** Posts one batch for the command queue, which interprets the status itself. */
  async sendCommands(batch: readonly QueuedCommand[]): Promise<SendOutcome> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), COMMAND_TIMEOUT_MS);
    try {
      const response = await this.fetchFn(
        '/api/commands',
        this.withToken({
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(batch),
          signal: controller.signal,
        }),
      );
      const body = await response.text();
      return { kind: 'response', status: response.status, body, retryAfter: response.headers.get('Retry-After') };
    } catch (error) {
      return { kind: 'network-error', error };
    } finally {
      clearTimeout(timer);
    }
  }

  private withToken(init: RequestInit): RequestInit {
    const headers = new Headers(init.headers);
    const token = this.auth.token();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    headers.set('Accept', 'application/json');
    return { ...init, headers };
  }
}

export async function httpErrorOf(response: Response, action: string): Promise<HttpError> {
  let detail = '';
  try {
    detail = (await response.text()).trim();
  } catch {
    // The body is unreadable; the status alone must do.
  }
  const suffix = detail ? `: ${detail.slice(0, 200)}` : '';
  return new HttpError(response.status, `${action} failed with HTTP ${response.status}${suffix}`);
}
