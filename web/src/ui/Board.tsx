import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { newId } from '../state/ids';
import { buildLanes, endOrderOf, LANE_ORDER, planDrop, planMove, planToggleDone, type Direction } from '../state/lanes';
import {
  MARK_BOARD_RENDERED,
  MARK_DATA_ARRIVED,
  MEASURE_FIRST_RENDER,
  type Session,
} from '../state/session';
import type { Category, LaneKey, Settings, Task, TaskFields } from '../state/types';
import { AddTaskDialog } from './AddTaskDialog';
import type { CardActions } from './Card';
import { DetailsDialog } from './DetailsDialog';
import { useSessionStatus, useStoreVersion } from './hooks';
import { LANE_LABELS } from './labels';
import { Lane } from './Lane';
import { MoveDialog } from './MoveDialog';
import { StatusBar } from './StatusBar';
import { UserMenu } from './UserMenu';

interface BoardProps {
  session: Session;
  userName: string;
  onSignOut(): void;
}

/** The control to focus once the moved card has re-rendered. */
interface FocusRequest {
  taskId: string;
  control: string;
}

/** Marks the moment after the next paint and measures the time since `startMark`. */
function measureAfterPaint(endMark: string, measureName: string, startMark: string): void {
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.mark(endMark);
      try {
        performance.measure(measureName, startMark, endMark);
      } catch {
        // The start mark is missing (the page was not loaded by this session).
      }
    }, 0),
  );
}

export function Board({ session, userName, onSignOut }: BoardProps) {
  const store = session.store;
  const version = useStoreVersion(store);
  const status = useSessionStatus(session);
  const [query, setQuery] = useState('');
  const [expanded, setExpanded] = useState<LaneKey | null>(null);
  const [detailsId, setDetailsId] = useState<string | null>(null);
  const [movingId, setMovingId] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const focusRequest = useRef<FocusRequest | null>(null);
  /** A selector to focus after the next render, when the view switches (expand, back). */
  const focusSelector = useRef<string | null>(null);
  const measuredFirstRender = useRef(false);

  const settings = store.settings;
  const lanes = useMemo(() => buildLanes(store.tasks.values(), query), [version, query]);
  const lanesRef = useRef(lanes);
  lanesRef.current = lanes;

  const ready = status.phase === 'ready';
  useEffect(() => {
    if (!ready || measuredFirstRender.current) return;
    measuredFirstRender.current = true;
    measureAfterPaint(MARK_BOARD_RENDERED, MEASURE_FIRST_RENDER, MARK_DATA_ARRIVED);
  }, [ready]);

  useLayoutEffect(() => {
    const selector = focusSelector.current;
    if (selector) {
      focusSelector.current = null;
      document.querySelector<HTMLElement>(selector)?.focus();
    }
    const request = focusRequest.current;
    if (!request) return;
    focusRequest.current = null;
    const card = document.querySelector(`[data-task-id="${CSS.escape(request.taskId)}"]`);
    const target = (card?.querySelector(`[data-control="${request.control}"]`) ?? card?.querySelector('button')) as
      | HTMLElement
      | null
      | undefined;
    if (target && document.activeElement !== target) target.focus();
  });

  // The card actions read the latest state through refs, so the object stays the same
  // across renders and the lanes' handlers never act on stale lanes.
  const actions = useMemo<CardActions>(() => {
    const announce = (message: string) => setAnnouncement(message);
    const allTasks = () => store.tasks.values();
    return {
      openDetails: (task) => setDetailsId(task.id),
      chooseLane: (task) => setMovingId(task.id),
      toggleDone: (task) => {
        session.dispatch([planToggleDone(task)]);
        announce(task.done ? `Reopened ${task.title}` : `Completed ${task.title}`);
      },
      move: (task: Task, direction: Direction) => {
        const lane = lanesRef.current[task.category];
        const commands = planMove(allTasks(), lane, task.id, direction);
        if (commands.length === 0) return;
        focusRequest.current = { taskId: task.id, control: direction };
        session.dispatch(commands);
        announce(`Moved ${task.title} ${direction}`);
      },
      moveToLane: (task: Task, lane: LaneKey) => {
        const commands = planDrop(allTasks(), task, lane);
        if (commands.length === 0) return;
        focusRequest.current = { taskId: task.id, control: 'move-to' };
        session.dispatch(commands);
        announce(lane === 'done' ? `Completed ${task.title}` : `Moved ${task.title} to ${LANE_LABELS[lane]}`);
      },
    };
  }, [session, store]);

  const dropTask = (taskId: string, lane: LaneKey) => {
    const task = store.tasks.get(taskId);
    if (task) actions.moveToLane(task, lane);
  };

  const addTask = (title: string, notes: string, category: Category) => {
    const data: { id: string; title: string; notes?: string; category: Category; order: number } = {
      id: newId(),
      title,
      category,
      order: endOrderOf(store.tasks.values(), category),
    };
    if (notes.trim() !== '') data.notes = notes;
    session.dispatch([{ entityType: 'task', type: 'create-task', data }]);
    setAnnouncement(`Added ${title} to ${LANE_LABELS[category]}`);
  };

  const saveDetails = (task: Task, fields: TaskFields) => {
    session.dispatch([{ entityType: 'task', type: 'update-task', data: { id: task.id, ...fields } }]);
    setAnnouncement(`Saved ${fields.title ?? task.title}`);
  };

  const updateSettings = (patch: Partial<Settings>) => {
    session.dispatch([{ entityType: 'user-settings', type: 'update-user-settings', data: patch }]);
  };

  const expandLane = (lane: LaneKey) => {
    focusSelector.current = '.back-button';
    setExpanded(lane);
  };

  const backToBoard = () => {
    if (expanded) focusSelector.current = `section.lane[data-lane="${expanded}"] .lane-title`;
    setExpanded(null);
  };

  const showBoard = status.phase === 'ready' || store.tasks.size > 0;
  const visibleLanes = LANE_ORDER.filter((lane) => lane !== 'done' || settings.showDoneTasks);
  const detailsTask = detailsId ? store.tasks.get(detailsId) : undefined;
  const movingTask = movingId ? store.tasks.get(movingId) : undefined;

  return (
    <div class="app">
      <header class="top-bar">
        <h1 class="brand">Prism Plan</h1>
        <div class="search">
          <label for="search" class="visually-hidden">
            Search tasks
          </label>
          <input
            id="search"
            type="search"
            placeholder="Search tasks"
            value={query}
            onInput={(event) => setQuery((event.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <button type="button" class="primary add-button" onClick={() => setAdding(true)}>
          + Add task
        </button>
        <UserMenu userName={userName} settings={settings} onUpdateSettings={updateSettings} onSignOut={onSignOut} />
      </header>
      <StatusBar status={status} onDismiss={(id) => session.dismissNotice(id)} />
      <p class="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      <main class="board-area">
        {!showBoard && status.phase === 'loading' && <p class="loading">Loading your board…</p>}
        {status.phase === 'failed' && (
          <div class="load-error" role="alert">
            <p>{status.loadError}</p>
            <button type="button" onClick={() => void session.load()}>
              Try again
            </button>
          </div>
        )}
        {showBoard && expanded && (
          <div class="expanded">
            <button type="button" class="back-button" onClick={backToBoard}>
              ← Back to board
            </button>
            <div class="board board-single">
              <Lane lane={expanded} tasks={lanes[expanded]} actions={actions} onDropTask={dropTask} />
            </div>
          </div>
        )}
        {showBoard && !expanded && (
          <div class={`board lanes-${visibleLanes.length}`}>
            {visibleLanes.map((lane) => (
              <Lane
                key={lane}
                lane={lane}
                tasks={lanes[lane]}
                limit={settings.tasksPerCategory}
                actions={actions}
                onExpand={expandLane}
                onDropTask={dropTask}
              />
            ))}
          </div>
        )}
      </main>
      {adding && <AddTaskDialog onSave={addTask} onClose={() => setAdding(false)} />}
      {movingTask && <MoveDialog task={movingTask} onMove={actions.moveToLane} onClose={() => setMovingId(null)} />}
      {detailsTask && (
        <DetailsDialog
          key={detailsTask.id}
          task={detailsTask}
          onSave={saveDetails}
          onToggleDone={actions.toggleDone}
          onClose={() => setDetailsId(null)}
        />
      )}
    </div>
  );
}
