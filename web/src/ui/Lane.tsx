import { useEffect, useRef, useState } from 'preact/hooks';
import type { LaneKey, Task } from '../state/types';
import { Card, type CardActions } from './Card';
import { LANE_LABELS } from './labels';

interface LaneProps {
  lane: LaneKey;
  /** The lane's tasks after search filtering, sorted. */
  tasks: Task[];
  /** Maximum number of cards to show, or undefined for all of them (the expanded lane). */
  limit?: number;
  actions: CardActions;
  onExpand?(lane: LaneKey): void;
  onDropTask(taskId: string, lane: LaneKey): void;
}

/**
 * An expanded lane renders this many cards at once and the rest in steps of
 * CARDS_PER_FRAME per animation frame. A lane of thousands of cards so shows its first
 * cards at once instead of blocking the page until all are rendered.
 */
/** The drag data type that marks a Prism Plan card. */
export const TASK_DRAG_TYPE = 'application/x-prism-task';

const FIRST_EXPANDED_CARDS = 150;
const CARDS_PER_FRAME = 300;
/** How long a click waits for a second click before it opens the details, in milliseconds. */
const DOUBLE_CLICK_WINDOW_MS = 250;

/** Finds the card and the control under an event's target; returns null when there is none. */
function cardControlOf(event: Event): { taskId: string; control: string; element: HTMLElement } | null {
  const element = (event.target as HTMLElement | null)?.closest<HTMLElement>('[data-control]');
  const card = element?.closest<HTMLElement>('[data-task-id]');
  if (!element || !card || !card.dataset.taskId) return null;
  return { taskId: card.dataset.taskId, control: element.dataset.control ?? '', element };
}

export function Lane({ lane, tasks, limit, actions, onExpand, onDropTask }: LaneProps) {
  const [dragOver, setDragOver] = useState(false);
  const [rendered, setRendered] = useState(FIRST_EXPANDED_CARDS);
  const clickTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const expanded = limit === undefined;
  const findTask = (id: string) => tasks.find((task) => task.id === id);

  const cancelPendingClick = () => {
    if (clickTimer.current) clearTimeout(clickTimer.current);
    clickTimer.current = null;
  };

  const handleClick = (event: MouseEvent) => {
    const hit = cardControlOf(event);
    const task = hit && findTask(hit.taskId);
    if (!hit || !task) return;
    if (hit.control === 'open') {
      // detail is 0 for a click made with the keyboard (Enter or Space). The second
      // click of a double click is left to the dblclick handler.
      if (event.detail === 0) {
        actions.openDetails(task);
      } else if (event.detail === 1) {
        cancelPendingClick();
        clickTimer.current = setTimeout(() => {
          clickTimer.current = null;
          actions.openDetails(task);
        }, DOUBLE_CLICK_WINDOW_MS);
      }
    } else if (hit.control === 'up' || hit.control === 'down') {
      if (hit.element.getAttribute('aria-disabled') !== 'true') actions.move(task, hit.control);
    } else if (hit.control === 'move-to') {
      actions.chooseLane(task);
    }
  };

  const handleDoubleClick = (event: MouseEvent) => {
    const hit = cardControlOf(event);
    const task = hit && findTask(hit.taskId);
    if (!hit || !task || hit.control !== 'open') return;
    event.preventDefault();
    cancelPendingClick();
    actions.toggleDone(task);
  };

  const handleDragStart = (event: DragEvent) => {
    const card = (event.target as HTMLElement | null)?.closest<HTMLElement>('[data-task-id]');
    const task = card?.dataset.taskId ? findTask(card.dataset.taskId) : undefined;
    if (!task || !event.dataTransfer) return;
    event.dataTransfer.setData(TASK_DRAG_TYPE, task.id);
    event.dataTransfer.setData('text/plain', task.title);
    event.dataTransfer.effectAllowed = 'move';
  };

  useEffect(() => {
    if (!expanded || rendered >= tasks.length) return;
    const frame = requestAnimationFrame(() => setRendered((count) => count + CARDS_PER_FRAME));
    return () => cancelAnimationFrame(frame);
  }, [expanded, rendered, tasks.length]);

  const shown = tasks.slice(0, expanded ? rendered : limit);
  const hidden = tasks.length - shown.length;
  const headingId = `lane-heading-${lane}`;

  const acceptsDrag = (event: DragEvent) => event.dataTransfer?.types.includes(TASK_DRAG_TYPE) ?? false;

  const handleDragOver = (event: DragEvent) => {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
    if (!dragOver) setDragOver(true);
  };

  const handleDragLeave = (event: DragEvent) => {
    const related = event.relatedTarget as Node | null;
    if (related && (event.currentTarget as Node).contains(related)) return;
    setDragOver(false);
  };

  const handleDrop = (event: DragEvent) => {
    setDragOver(false);
    const id = event.dataTransfer?.getData(TASK_DRAG_TYPE);
    if (!id) return;
    event.preventDefault();
    onDropTask(id, lane);
  };

  return (
    <section
      class={`lane lane-${lane}${dragOver ? ' drag-over' : ''}`}
      aria-labelledby={headingId}
      data-lane={lane}
      onClick={handleClick}
      onDblClick={handleDoubleClick}
      onDragStart={handleDragStart}
      onDragOver={handleDragOver}
      onDragLeave={handleDragLeave}
      onDrop={handleDrop}
    >
      <h2 class="lane-heading" id={headingId}>
        {onExpand ? (
          <button type="button" class="lane-title" onClick={() => onExpand(lane)} aria-label={`${LANE_LABELS[lane]}: show all ${tasks.length}`}>
            {LANE_LABELS[lane]} <span class="lane-count">{tasks.length}</span>
          </button>
        ) : (
          <span class="lane-title">
            {LANE_LABELS[lane]} <span class="lane-count">{tasks.length}</span>
          </span>
        )}
      </h2>
      {shown.length === 0 ? (
        <p class="lane-empty">{lane === 'done' ? 'Nothing done yet.' : 'No tasks.'}</p>
      ) : (
        <ol class="cards" aria-labelledby={headingId}>
          {shown.map((task, index) => (
            <Card key={task.id} task={task} isFirst={index === 0} isLast={index === tasks.length - 1} />
          ))}
        </ol>
      )}
      {hidden > 0 && onExpand && (
        <button type="button" class="more-button" onClick={() => onExpand(lane)}>
          +{hidden} more
        </button>
      )}
    </section>
  );
}
