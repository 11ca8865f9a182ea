// The "tasks per category" field: its value goes to the server about 400 ms after the
// user stops typing, or at once when the field loses focus, and only when it is a valid
// number that differs from what was last sent.
import { MAX_TASKS_PER_CATEGORY } from './types';

export const SETTINGS_DEBOUNCE_MS = 400;

/** Parses the field's text; returns undefined unless it is an integer from 1 to 1000. */
export function parseTasksPerCategory(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  if (value < 1 || value > MAX_TASKS_PER_CATEGORY) return undefined;
  return value;
}

export interface DebouncerDeps {
  send(value: number): void;
  schedule(callback: () => void, ms: number): () => void;
  delayMs?: number;
}

export class TasksPerCategoryDebouncer {
  private cancelTimer: (() => void) | null = null;
  private latestText: string | null = null;

  /** @param lastSent the value the server has now, so that re-typing it sends nothing */
  constructor(
    private readonly deps: DebouncerDeps,
    private lastSent: number,
  ) {}

  /** Records a keystroke's result and restarts the quiet-period timer. */
  input(text: string): void {
    this.latestText = text;
    this.cancelTimer?.();
    this.cancelTimer = this.deps.schedule(() => {
      this.cancelTimer = null;
      this.commit();
    }, this.deps.delayMs ?? SETTINGS_DEBOUNCE_MS);
  }

  /** Sends at once when the field loses focus. */
  blur(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.commit();
  }

  /** Updates the value known to the server (for example from another tab's change). */
  setServerValue(value: number): void {
    if (this.latestText === null) this.lastSent = value;
  }

  dispose(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private commit(): void {
    if (this.latestText === null) return;
    const value = parseTasksPerCategory(this.latestText);
    this.latestText = null;
    if (value === undefined || value === this.lastSent) return;
    this.lastSent = value;
    this.deps.send(value);
  }
}
