// The effect of each command on a task or on the settings. The board uses it to show a
// change before the server confirms it and to recognise the server state that confirms it.
import type { Command, Settings, Task } from './types';

/**
 * Returns the task as it will be after `command`, or `current` unchanged when the command
 * does not concern it. A `create-task` for an id that already exists keeps the existing
 * task, as the server rejects such a command.
 */
export function applyTaskCommand(current: Task | undefined, command: Command): Task | undefined {
  if (command.entityType !== 'task') return current;
  switch (command.type) {
    case 'create-task': {
      if (current) return current;
      const data = command.data;
      return {
        id: data.id,
        title: data.title.trim(),
        notes: data.notes ?? '',
        category: data.category,
        order: data.order,
        done: false,
      };
    }
    case 'update-task': {
      if (!current) return current;
      const { id: _id, ...fields } = command.data;
      const next: Task = { ...current, ...fields };
      if (fields.title !== undefined) next.title = fields.title.trim();
      // Moving a completed task into a category reopens it on the server.
      if (fields.category !== undefined && fields.done === undefined && current.done) next.done = false;
      return next;
    }
    case 'complete-task':
      return current && !current.done ? { ...current, done: true } : current;
    case 'reopen-task':
      return current && current.done ? { ...current, done: false } : current;
  }
}

export function applySettingsCommand(current: Settings, command: Command): Settings {
  if (command.type !== 'update-user-settings') return current;
  return { ...current, ...command.data };
}

export function sameTask(a: Task | undefined, b: Task | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.id === b.id &&
    a.title === b.title &&
    a.notes === b.notes &&
    a.category === b.category &&
    a.order === b.order &&
    a.done === b.done
  );
}

export function sameSettings(a: Settings, b: Settings): boolean {
  return a.tasksPerCategory === b.tasksPerCategory && a.showDoneTasks === b.showDoneTasks;
}

/** Returns the id of the task a command changes, or undefined for other commands. */
export function taskIdOf(command: Command): string | undefined {
  return command.entityType === 'task' ? command.data.id : undefined;
}
