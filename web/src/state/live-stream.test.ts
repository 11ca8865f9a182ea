import { describe, expect, it } from 'vitest';
import { EVENT_SOURCE_CLOSED, LiveStream, parseStreamMessage, type EventSourceLike } from './live-stream';
import { DEFAULT_SETTINGS } from './types';
import { ManualClock } from './test-support';

class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  close() {
    this.closed = true;
    this.readyState = EVENT_SOURCE_CLOSED;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(data: unknown, id: string) {
    this.onmessage?.({ data: JSON.stringify(data), lastEventId: id } as MessageEvent);
  }
  fail(closed: boolean) {
    this.readyState = closed ? EVENT_SOURCE_CLOSED : 0;
    this.onerror?.(new Event('error'));
  }
}

function setup(token = 'tok') {
  const clock = new ManualClock();
  const sources: FakeEventSource[] = [];
  const data: string[] = [];
  const connected: boolean[] = [];
  let refreshes = 0;
  const stream = new LiveStream({
    createEventSource: (url) => {
      const source = new FakeEventSource(url);
      sources.push(source);
      return source;
    },
    getToken: () => token,
    onData: (message) => data.push(message),
    onConnectedChange: (value) => connected.push(value),
    beforeReopen: async () => {
      refreshes += 1;
    },
    schedule: clock.schedule,
    random: () => 0.5,
  });
  return { stream, clock, sources, data, connected, refreshes: () => refreshes };
}

describe('stream messages', () => {
  it('parses task messages with an array of tasks', () => {
    const message = parseStreamMessage(
      JSON.stringify({ entityType: 'task', data: [{ id: 'a', title: 'A', category: 'fun', order: 2 }] }),
      DEFAULT_SETTINGS,
    );
    expect(message).toEqual({
      kind: 'tasks',
      tasks: [{ id: 'a', title: 'A', notes: '', category: 'fun', order: 2, done: false }],
    });
  });

  it('parses settings messages', () => {
    const message = parseStreamMessage(
      JSON.stringify({ entityType: 'user-settings', data: { tasksPerCategory: 5, showDoneTasks: true } }),
      DEFAULT_SETTINGS,
    );
    expect(message).toEqual({ kind: 'settings', settings: { tasksPerCategory: 5, showDoneTasks: true } });
  });

  it('ignores unknown or broken messages', () => {
    expect(parseStreamMessage('not json', DEFAULT_SETTINGS)).toBeNull();
    expect(parseStreamMessage('{"entityType":"user","data":{}}', DEFAULT_SETTINGS)).toBeNull();
  });

  it('drops task entries without an id', () => {
    const message = parseStreamMessage(JSON.stringify({ entityType: 'task', data: [{ title: 'x' }] }), DEFAULT_SETTINGS);
    expect(message).toEqual({ kind: 'tasks', tasks: [] });
  });
});

describe('stream connection', () => {
  it('opens with the token in the query', () => {
    const { stream, sources } = setup('a.b.c');
    stream.start();
    expect(sources[0].url).toBe('/stream?token=a.b.c');
  });

  it('passes data on and reports the connection', () => {
    const { stream, sources, data, connected } = setup();
    stream.start();
    sources[0].open();
    sources[0].emit({ entityType: 'task', data: [] }, '7');
    expect(data).toHaveLength(1);
    expect(connected).toEqual([true]);
    expect(stream.lastId).toBe('7');
  });

  it('leaves reconnection to the browser while it retries', async () => {
    const { stream, sources, clock, connected } = setup();
    stream.start();
    sources[0].open();
    sources[0].fail(false);
    await clock.advance(60_000);
    expect(sources).toHaveLength(1);
    expect(connected).toEqual([true, false]);
  });

  it('reopens with lastEventId after the browser gives up', async () => {
    const { stream, sources, clock, refreshes } = setup();
    stream.start();
    sources[0].open();
    sources[0].emit({ entityType: 'task', data: [] }, '42');
    sources[0].fail(true);
    await clock.advance(499);
    expect(sources).toHaveLength(1);
    await clock.advance(1);
    expect(refreshes()).toBe(1);
    expect(sources).toHaveLength(2);
    expect(sources[1].url).toBe('/stream?token=tok&lastEventId=42');
  });

  it('backs off between failed reopen attempts', async () => {
    const { stream, sources, clock } = setup();
    stream.start();
    sources[0].fail(true);
    await clock.advance(500);
    sources[1].fail(true);
    await clock.advance(1000);
    sources[2].fail(true);
    await clock.advance(2000);
    expect(clock.delays.slice(0, 3)).toEqual([500, 1000, 2000]);
    expect(sources).toHaveLength(4);
  });

  it('restart opens a new connection with the last id', () => {
    const { stream, sources } = setup();
    stream.start();
    sources[0].emit({ entityType: 'task', data: [] }, '9');
    stream.restart();
    expect(sources[0].closed).toBe(true);
    expect(sources[1].url).toContain('lastEventId=9');
  });

  it('stop closes the connection and cancels reopening', async () => {
    const { stream, sources, clock } = setup();
    stream.start();
    sources[0].fail(true);
    stream.stop();
    await clock.advance(60_000);
    expect(sources).toHaveLength(1);
  });
});
