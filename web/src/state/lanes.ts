// Pure board logic: which tasks go in which lane, in what order, and which commands a
// move, a drag or a new task produces. Every tab runs the same code on the same data,
// so every tab shows the same order.
import {
  CATEGORIES,
  type Category,
  type Command,
  type LaneKey,
  type Task,
  type UpdateTaskCommand,
} from './types';

export const LANE_ORDER: readonly LaneKey[] = [...CATEGORIES, 'done'];

/**
 * Orders tasks by `order`, then by id. Ids compare by UTF-16 code units rather than by
 * locale, so that ties sort identically in every browser and every tab.
 */
export function compareTasks(a: Task, b: Task): number {
  if (a.order !== b.order) return a.order - b.order;
  if (a.id < b.id) return -1;
  if (a.id > b.id) return 1;
  return 0;
}

export function laneOf(task: Task): LaneKey {
  return task.done ? 'done' : task.category;
}

/** Returns true when the title or the notes contain `query`, ignoring case. */
export function matchesQuery(task: Task, normalizedQuery: string): boolean {
  if (normalizedQuery === '') return true;
  return (
    task.title.toLowerCase().includes(normalizedQuery) || task.notes.toLowerCase().includes(normalizedQuery)
  );
}

export function normalizeQuery(query: string): string {
  return query.trim().toLowerCase();
}

export type Lanes = Record<LaneKey, Task[]>;

function emptyLanes(): Lanes {
  return { critical: [], fun: [], important: [], normal: [], done: [] };
}

/** Groups tasks into sorted lanes, keeping only those that match the search query. */
export function buildLanes(tasks: Iterable<Task>, query = ''): Lanes {
  const normalized = normalizeQuery(query);
  const lanes = emptyLanes();
  for (const task of tasks) {
    if (matchesQuery(task, normalized)) lanes[laneOf(task)].push(task);
  }
  for (const key of LANE_ORDER) lanes[key].sort(compareTasks);
  return lanes;
}

/** Returns the open tasks of one category, sorted, ignoring the search query. */
export function openTasksOf(tasks: Iterable<Task>, category: Category): Task[] {
  const result: Task[] = [];
  for (const task of tasks) {
    if (!task.done && task.category === category) result.push(task);
  }
  return result.sort(compareTasks);
}

/**
 * Returns the `order` that puts a task at the end of a category lane: the number of
 * open tasks there, or one past the highest order when completed or moved-out tasks
 * left gaps (so the new task still sorts last).
 */
export function endOrderOf(tasks: Iterable<Task>, category: Category, excludeId?: string): number {
  let count = 0;
  let maxOrder = -1;
  for (const task of tasks) {
    if (task.done || task.category !== category || task.id === excludeId) continue;
    count += 1;
    if (task.order > maxOrder) maxOrder = task.order;
  }
  return Math.max(count, maxOrder + 1);
}

function orderUpdate(id: string, order: number): UpdateTaskCommand {
  return { entityType: 'task', type: 'update-task', data: { id, order } };
}

function isStrictlyIncreasing(lane: Task[]): boolean {
  for (let i = 1; i < lane.length; i += 1) {
    if (lane[i - 1].order >= lane[i].order) return false;
  }
  return true;
}

/**
 * Plans swapping two tasks of one lane. `lane` is the whole sorted lane (unfiltered).
 * When the lane's orders are strictly increasing, the two tasks exchange their orders:
 * two `update-task` commands that each change only `order`. Otherwise ties would leave
 * the result up to the id tie-break, so the lane is renumbered 0..n-1 with the two tasks
 * swapped, and only the tasks whose order changes get a command.
 */
export function planSwap(lane: Task[], firstId: string, secondId: string): UpdateTaskCommand[] {
  const firstIndex = lane.findIndex((task) => task.id === firstId);
  const secondIndex = lane.findIndex((task) => task.id === secondId);
  if (firstIndex < 0 || secondIndex < 0 || firstIndex === secondIndex) return [];
  const first = lane[firstIndex];
  const second = lane[secondIndex];

  if (isStrictlyIncreasing(lane)) {
    return [orderUpdate(first.id, second.order), orderUpdate(second.id, first.order)];
  }

  const reordered = lane.slice();
  reordered[firstIndex] = second;
  reordered[secondIndex] = first;
  const commands: UpdateTaskCommand[] = [];
  reordered.forEach((task, index) => {
    if (task.order !== index) commands.push(orderUpdate(task.id, index));
  });
  return commands;
}

export type Direction = 'up' | 'down';

/**
 * Plans moving a task one place up or down. `visibleLane` is the lane as shown (it may
 * be filtered by the search box), so the task swaps with the neighbour on screen;
 * the orders are computed on the whole lane from `allTasks`.
 */
export function planMove(
  allTasks: Iterable<Task>,
  visibleLane: Task[],
  id: string,
  direction: Direction,
): UpdateTaskCommand[] {
  const index = visibleLane.findIndex((task) => task.id === id);
  if (index < 0) return [];
  const task = visibleLane[index];
  if (task.done) return [];
  const neighbourIndex = direction === 'up' ? index - 1 : index + 1;
  const neighbour = visibleLane[neighbourIndex];
  if (!neighbour) return [];
  return planSwap(openTasksOf(allTasks, task.category), task.id, neighbour.id);
}

/**
 * Plans dropping a task on a lane. On Done: `complete-task`. On a category lane: an
 * `update-task` with the category and the end-of-lane order; for a completed task the
 * server also reopens it (it adds `done: false`). Dropping an open task on its own
 * lane, or a completed one on Done, changes nothing.
 */
export function planDrop(allTasks: Iterable<Task>, task: Task, target: LaneKey): Command[] {
  if (target === 'done') {
    if (task.done) return [];
    return [{ entityType: 'task', type: 'complete-task', data: { id: task.id } }];
  }
  if (!task.done && task.category === target) return [];
  const order = endOrderOf(allTasks, target, task.id);
  return [{ entityType: 'task', type: 'update-task', data: { id: task.id, category: target, order } }];
}

/** Plans the toggle that a double click performs: complete an open task, reopen a done one. */
export function planToggleDone(task: Task): Command {
  return task.done
    ? { entityType: 'task', type: 'reopen-task', data: { id: task.id } }
    : { entityType: 'task', type: 'complete-task', data: { id: task.id } };
}
