// Shapes of the data the app exchanges with the Prism Plan HTTP API.

export const CATEGORIES = ['critical', 'fun', 'important', 'normal'] as const;
export type Category = (typeof CATEGORIES)[number];

/** A board column: one per category, plus the Done lane. */
export type LaneKey = Category | 'done';

export function isCategory(value: unknown): value is Category {
  return typeof value === 'string' && (CATEGORIES as readonly string[]).includes(value);
}

/** A task as the board shows it; `notes` and `done` are always filled in. */
export interface Task {
  id: string;
  title: string;
  notes: string;
  category: Category;
  order: number;
  done: boolean;
}

export interface Settings {
  tasksPerCategory: number;
  showDoneTasks: boolean;
}

export const DEFAULT_SETTINGS: Settings = { tasksPerCategory: 3, showDoneTasks: false };

/** Limits that the server checks at admission. */
export const MAX_TITLE_LENGTH = 500;
export const MAX_NOTES_LENGTH = 10_000;
export const MAX_TASKS_PER_CATEGORY = 1000;

export interface TaskFields {
  title?: string;
  notes?: string;
  category?: Category;
  order?: number;
  done?: boolean;
}

export type CreateTaskCommand = {
  entityType: 'task';
  type: 'create-task';
  data: { id: string; title: string; notes?: string; category: Category; order: number };
};
export type UpdateTaskCommand = {
  entityType: 'task';
  type: 'update-task';
  data: { id: string } & TaskFields;
};
export type CompleteTaskCommand = { entityType: 'task'; type: 'complete-task'; data: { id: string } };
export type ReopenTaskCommand = { entityType: 'task'; type: 'reopen-task'; data: { id: string } };
export type LoginUserCommand = {
  entityType: 'user';
  type: 'login-user';
  data: { name?: string; email?: string };
};
/** `logout-user` carries no data, so the field is left out of the request. */
export type LogoutUserCommand = { entityType: 'user'; type: 'logout-user' };
export type UpdateSettingsCommand = {
  entityType: 'user-settings';
  type: 'update-user-settings';
  data: Partial<Settings>;
};

export type TaskCommand = CreateTaskCommand | UpdateTaskCommand | CompleteTaskCommand | ReopenTaskCommand;
export type Command = TaskCommand | LoginUserCommand | LogoutUserCommand | UpdateSettingsCommand;

/** A command with the idempotency key it keeps across every retry. */
export type QueuedCommand = Command & { idempotencyKey: string };

export function isTaskCommand(command: Command): command is TaskCommand {
  return command.entityType === 'task';
}

/** Converts a task from the API (where `notes` and `done` may be omitted) into a board task. */
export function normalizeTask(raw: unknown): Task | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const record = raw as Record<string, unknown>;
  if (typeof record.id !== 'string' || typeof record.title !== 'string') return null;
  const category = isCategory(record.category) ? record.category : 'normal';
  const order = typeof record.order === 'number' && Number.isFinite(record.order) ? record.order : 0;
  return {
    id: record.id,
    title: record.title,
    notes: typeof record.notes === 'string' ? record.notes : '',
    category,
    order,
    done: record.done === true,
  };
}

export function normalizeSettings(raw: unknown, fallback: Settings = DEFAULT_SETTINGS): Settings {
  if (typeof raw !== 'object' || raw === null) return fallback;
  const record = raw as Record<string, unknown>;
  const perCategory = record.tasksPerCategory;
  return {
    tasksPerCategory:
      typeof perCategory === 'number' && Number.isInteger(perCategory) && perCategory >= 1
        ? perCategory
        : fallback.tasksPerCategory,
    showDoneTasks: typeof record.showDoneTasks === 'boolean' ? record.showDoneTasks : fallback.showDoneTasks,
  };
}
