import { CATEGORIES, type LaneKey, type Task } from '../state/types';
import { LANE_LABELS } from './labels';
import { Modal } from './Modal';

interface MoveDialogProps {
  task: Task;
  onMove(task: Task, lane: LaneKey): void;
  onClose(): void;
}

/** Lists the lanes a card can move to: the keyboard and screen-reader alternative to dragging. */
export function MoveDialog({ task, onMove, onClose }: MoveDialogProps) {
  const targets: LaneKey[] = task.done ? [...CATEGORIES] : [...CATEGORIES.filter((c) => c !== task.category), 'done'];
  const label = (lane: LaneKey) => {
    if (lane === 'done') return 'Done (complete it)';
    return task.done ? `${LANE_LABELS[lane]} (reopen it)` : LANE_LABELS[lane];
  };
  return (
    <Modal labelledBy="move-heading" onClose={onClose} className="move-dialog">
      <div class="dialog-form">
        <h2 id="move-heading">Move “{task.title}” to</h2>
        <ul class="move-targets">
          {targets.map((lane, index) => (
            <li key={lane}>
              <button
                type="button"
                class={`move-target lane-${lane}`}
                autoFocus={index === 0}
                onClick={() => {
                  onMove(task, lane);
                  onClose();
                }}
              >
                {label(lane)}
              </button>
            </li>
          ))}
        </ul>
        <div class="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </div>
    </Modal>
  );
}
