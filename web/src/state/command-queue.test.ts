import { describe, expect, it } from 'vitest';
import { CommandQueue, errorMessageOf, type CommandQueueDeps, type QueuePersistence, type RejectedCommand, type SendOutcome } from './command-queue';
import { ManualClock, flushPromises } from './test-support';
import type { Command, QueuedCommand } from './types';

class MemoryPersistence implements QueuePersistence {
  saved: QueuedCommand[] = [];
  constructor(private initial: QueuedCommand[] = []) {}
  load() {
    return [...this.initial];
  }
  save(commands: readonly QueuedCommand[]) {
    this.saved = [...commands];
  }
}

const create = (title: string): Command => ({
  entityType: 'task',
  type: 'create-task',
  data: { id: `id-${title}`, title, category: 'normal', order: 0 },
});

function response(status: number, body = '', retryAfter: string | null = null): SendOutcome {
  return { kind: 'response', status, body, retryAfter };
}

/** Builds a queue whose fake server returns the scripted outcomes, then 202. */
function setup(script: Array<SendOutcome | ((batch: readonly QueuedCommand[]) => SendOutcome)> = [], extra: Partial<CommandQueueDeps> = {}) {
  const clock = new ManualClock();
  const persistence = new MemoryPersistence();
  const requests: QueuedCommand[][] = [];
  const acknowledged: string[] = [];
  const rejected: RejectedCommand[] = [];
  let reauthCalls = 0;
  const queue = new CommandQueue({
    persistence,
    schedule: clock.schedule,
    now: () => clock.now,
    random: () => 0.5,
    send: async (batch) => {
      requests.push([...batch]);
      const next = script.shift();
      if (!next) return response(202);
      return typeof next === 'function' ? next(batch) : next;
    },
    reauthenticate: async () => {
      reauthCalls += 1;
      return true;
    },
    onAcknowledged: (keys) => acknowledged.push(...keys),
    onRejected: (rejection) => rejected.push(rejection),
    ...extra,
  });
  return { queue, clock, persistence, requests, acknowledged, rejected, reauthCalls: () => reauthCalls };
}

const keysOf = (batch: readonly QueuedCommand[]) => batch.map((command) => command.idempotencyKey);

describe('queueing and persistence', () => {
  it('persists commands with idempotency keys before sending', () => {
    const { queue, persistence } = setup([{ kind: 'network-error', error: new Error('offline') }]);
    const [queued] = queue.enqueue([{ command: create('a') }]);
    expect(queued.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(persistence.saved.map((c) => c.idempotencyKey)).toEqual([queued.idempotencyKey]);
  });

  it('keeps a given key', () => {
    const { queue } = setup();
    const [queued] = queue.enqueue([{ command: create('a'), key: 'my-key' }]);
    expect(queued.idempotencyKey).toBe('my-key');
  });

  it('removes commands from storage after 202', async () => {
    const { queue, persistence, acknowledged } = setup();
    const queued = queue.enqueue([{ command: create('a') }, { command: create('b') }]);
    await flushPromises();
    expect(persistence.saved).toEqual([]);
    expect(acknowledged).toEqual(keysOf(queued));
    expect(queue.pending).toEqual([]);
  });

  it('loads commands left from an earlier page and sends them', async () => {
    const clock = new ManualClock();
    const leftover = [{ ...create('old'), idempotencyKey: 'old-key' }] as QueuedCommand[];
    const sent: string[][] = [];
    const queue = new CommandQueue({
      persistence: new MemoryPersistence(leftover),
      schedule: clock.schedule,
      send: async (batch) => {
        sent.push(keysOf(batch));
        return response(202);
      },
      reauthenticate: async () => true,
    });
    expect(queue.pending.map((c) => c.idempotencyKey)).toEqual(['old-key']);
    queue.retryNow();
    await flushPromises();
    expect(sent).toEqual([['old-key']]);
  });

  it('sends enqueued commands together in one batch', async () => {
    const { queue, requests } = setup();
    queue.enqueue([{ command: create('a') }, { command: create('b') }, { command: create('c') }]);
    await flushPromises();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toHaveLength(3);
  });

  it('caps a batch at 50 commands', async () => {
    const { queue, requests } = setup();
    queue.enqueue(Array.from({ length: 120 }, (_, i) => ({ command: create(`t${i}`) })));
    await flushPromises();
    expect(requests.map((batch) => batch.length)).toEqual([50, 50, 20]);
  });

  it('caps a batch by body size', async () => {
    const { queue, requests } = setup([], { maxBatchBytes: 1000 });
    const long = 'x'.repeat(300);
    queue.enqueue(Array.from({ length: 6 }, (_, i) => ({ command: create(`${long}${i}`) })));
    await flushPromises();
    expect(requests.length).toBeGreaterThan(1);
    for (const batch of requests) expect(JSON.stringify(batch).length).toBeLessThanOrEqual(1000);
  });

  it('sends one request at a time, in order', async () => {
    let release: (() => void) | null = null;
    const clock = new ManualClock();
    const sent: string[][] = [];
    const queue = new CommandQueue({
      persistence: new MemoryPersistence(),
      schedule: clock.schedule,
      reauthenticate: async () => true,
      send: (batch) => {
        sent.push(batch.map((c) => (c.type === 'create-task' ? c.data.title : '')));
        return new Promise((resolve) => {
          release = () => resolve(response(202));
        });
      },
    });
    queue.enqueue([{ command: create('first') }]);
    queue.enqueue([{ command: create('second') }]);
    await flushPromises();
    expect(sent).toEqual([['first']]);
    release!();
    await flushPromises();
    expect(sent).toEqual([['first'], ['second']]);
  });
});

describe('retries', () => {
  it('retries after a network error with the same keys', async () => {
    const { queue, clock, requests } = setup([{ kind: 'network-error', error: new Error('down') }]);
    queue.enqueue([{ command: create('a') }, { command: create('b') }]);
    await flushPromises();
    expect(requests).toHaveLength(1);
    expect(queue.state).toBe('waiting-to-retry');
    await clock.advance(30_000);
    expect(requests).toHaveLength(2);
    expect(keysOf(requests[1])).toEqual(keysOf(requests[0]));
    expect(queue.pending).toEqual([]);
  });

  it('backs off exponentially with jitter', async () => {
    const failures = Array.from({ length: 5 }, () => response(503));
    const { queue, clock } = setup(failures);
    queue.enqueue([{ command: create('a') }]);
    await clock.advance(120_000);
    // random() is 0.5, so each delay is half of 500 ms × 2^attempt.
    expect(clock.delays.slice(0, 5)).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('caps the back-off at 30 seconds', async () => {
    const failures = Array.from({ length: 12 }, () => response(503));
    const { queue, clock } = setup(failures);
    queue.enqueue([{ command: create('a') }]);
    await clock.advance(600_000);
    expect(Math.max(...clock.delays)).toBe(15_000);
  });

  it('honours Retry-After in seconds on 503', async () => {
    const { queue, clock, requests } = setup([response(503, 'busy', '3')]);
    queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    await clock.advance(2999);
    expect(requests).toHaveLength(1);
    await clock.advance(1000);
    expect(requests).toHaveLength(2);
  });

  it('retries sooner when the browser comes back online', async () => {
    const { queue, requests } = setup([{ kind: 'network-error', error: new Error('offline') }]);
    queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    queue.retryNow();
    await flushPromises();
    expect(requests).toHaveLength(2);
    expect(keysOf(requests[1])).toEqual(keysOf(requests[0]));
  });

  it('resets the back-off after a success', async () => {
    const { queue, clock } = setup([response(503), response(503), response(202), response(503)]);
    queue.enqueue([{ command: create('a') }]);
    await clock.advance(10_000);
    expect(clock.delays).toEqual([250, 500]);
    queue.enqueue([{ command: create('b') }]);
    await flushPromises();
    expect(clock.delays).toEqual([250, 500, 250]);
  });
});

describe('error statuses', () => {
  it('drops the command a 400 names and sends the rest', async () => {
    const { queue, requests, rejected } = setup([response(400, '{"error":"command 1: missing data.id"}')]);
    const queued = queue.enqueue([{ command: create('a') }, { command: create('b') }, { command: create('c') }]);
    await flushPromises();
    expect(rejected).toHaveLength(1);
    expect(rejected[0].command.idempotencyKey).toBe(queued[1].idempotencyKey);
    expect(rejected[0].message).toBe('command 1: missing data.id');
    expect(keysOf(requests[1])).toEqual([queued[0].idempotencyKey, queued[2].idempotencyKey]);
    expect(queue.pending).toEqual([]);
  });

  it('reads a plain-text 400 message too', async () => {
    const { queue, rejected } = setup([response(400, 'command 0: data.title must be 1-500 characters after trimming')]);
    queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    expect(rejected[0].message).toContain('data.title');
  });

  it('isolates the invalid command when a 400 names none', async () => {
    const bad = (batch: readonly QueuedCommand[]) =>
      batch.some((c) => c.type === 'create-task' && c.data.title === 'bad') ? response(400, 'invalid body') : response(202);
    const { queue, rejected, acknowledged } = setup([bad, bad, bad, bad, bad, bad]);
    queue.enqueue(['a', 'b', 'bad', 'c'].map((title) => ({ command: create(title) })));
    await flushPromises();
    expect(rejected.map((r) => (r.command.type === 'create-task' ? r.command.data.title : ''))).toEqual(['bad']);
    expect(acknowledged).toHaveLength(3);
  });

  it('splits the batch on 413', async () => {
    const tooLarge = (batch: readonly QueuedCommand[]) => (batch.length > 2 ? response(413, 'too large') : response(202));
    const { queue, requests, acknowledged } = setup([tooLarge, tooLarge, tooLarge, tooLarge, tooLarge, tooLarge]);
    queue.enqueue(Array.from({ length: 8 }, (_, i) => ({ command: create(`t${i}`) })));
    await flushPromises();
    expect(requests.map((batch) => batch.length)).toEqual([8, 4, 2, 2, 2, 2]);
    expect(acknowledged).toHaveLength(8);
    expect(new Set(requests.flatMap(keysOf)).size).toBe(8);
  });

  it('drops a single command that is still too large', async () => {
    const { queue, rejected } = setup([response(413, 'request body too large')]);
    queue.enqueue([{ command: create('huge') }]);
    await flushPromises();
    expect(rejected).toHaveLength(1);
    expect(rejected[0].status).toBe(413);
    expect(queue.pending).toEqual([]);
  });

  it('renews the token on 401 and retries with the same keys', async () => {
    const state = setup([response(401, 'token expired')]);
    state.queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    expect(state.reauthCalls()).toBe(1);
    expect(state.requests).toHaveLength(2);
    expect(keysOf(state.requests[1])).toEqual(keysOf(state.requests[0]));
    expect(state.queue.pending).toEqual([]);
  });

  it('waits for sign-in when the token cannot be renewed', async () => {
    const clock = new ManualClock();
    const queue = new CommandQueue({
      persistence: new MemoryPersistence(),
      schedule: clock.schedule,
      send: async () => response(401),
      reauthenticate: async () => false,
    });
    queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    expect(queue.state).toBe('waiting-for-sign-in');
    expect(queue.pending).toHaveLength(1);
  });

  it('backs off when a renewed token is rejected again', async () => {
    const { queue, clock, requests } = setup([response(401), response(401)]);
    queue.enqueue([{ command: create('a') }]);
    await flushPromises();
    expect(requests).toHaveLength(2);
    expect(queue.state).toBe('waiting-to-retry');
    await clock.advance(1000);
    expect(queue.pending).toEqual([]);
  });
});

describe('error bodies', () => {
  it('takes the error field of a JSON body', () => {
    expect(errorMessageOf('{"error":"invalid body"}')).toBe('invalid body');
  });

  it('keeps plain text as it is', () => {
    expect(errorMessageOf(' invalid page size\n')).toBe('invalid page size');
  });
});
