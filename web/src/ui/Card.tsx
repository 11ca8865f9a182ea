import { memo } from 'preact/compat';
import type { Direction } from '../state/lanes';
import type { LaneKey, Task } from '../state/types';

export interface CardActions {
  openDetails(task: Task): void;
  toggleDone(task: Task): void;
  move(task: Task, direction: Direction): void;
  moveToLane(task: Task, lane: LaneKey): void;
  /** Opens the dialog that moves a card to another lane (the keyboard alternative to drag). */
  chooseLane(task: Task): void;
}

interface CardProps {
  task: Task;
  isFirst: boolean;
  isLast: boolean;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0];
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/**
 * One task card: markup only. Its lane handles clicks, double clicks and drags for all
 * of its cards (event delegation), because per-card listeners were a large part of the
 * time an expanded lane of 2,000 cards took to render. Each control names its action in
 * `data-control`.
 *
 * "Move to…" opens a dialog rather than holding a per-card select, because 2,000 selects
 * also made that lane markedly slower.
 */
export const Card = memo(function Card({ task, isFirst, isLast }: CardProps) {
  return (
    <li class={`card card-${task.category}${task.done ? ' card-done' : ''}`} draggable data-task-id={task.id}>
      <button type="button" class="card-open" data-control="open" aria-label={`${task.title}${task.done ? ' (done)' : ''}: open details`}>
        <span class="card-title">{task.title}</span>
        {task.notes !== '' && <span class="card-notes">{firstLine(task.notes)}</span>}
      </button>
      <div class="card-actions">
        {!task.done && (
          <>
            <button type="button" class="icon-button" data-control="up" aria-label={`Move ${task.title} up`} aria-disabled={isFirst}>
              <span aria-hidden="true">▲</span>
            </button>
            <button type="button" class="icon-button" data-control="down" aria-label={`Move ${task.title} down`} aria-disabled={isLast}>
              <span aria-hidden="true">▼</span>
            </button>
          </>
        )}
        <button
          type="button"
          class="move-button"
          data-control="move-to"
          aria-haspopup="dialog"
          aria-label={`Move ${task.title} to another lane`}
        >
          Move to…
        </button>
      </div>
    </li>
  );
});
