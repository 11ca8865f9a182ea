import { useState } from 'preact/hooks';
import { MAX_NOTES_LENGTH, MAX_TITLE_LENGTH, type Task, type TaskFields } from '../state/types';
import { LANE_LABELS } from './labels';
import { Linkified } from './Linkified';
import { Modal } from './Modal';

interface DetailsDialogProps {
  task: Task;
  onSave(task: Task, fields: TaskFields): void;
  onToggleDone(task: Task): void;
  onClose(): void;
}

/** Shows a task's details. "Edit" turns the title and notes into form fields. */
export function DetailsDialog({ task, onSave, onToggleDone, onClose }: DetailsDialogProps) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(task.title);
  const [notes, setNotes] = useState(task.notes);
  const blank = title.trim() === '';

  const startEditing = () => {
    setTitle(task.title);
    setNotes(task.notes);
    setEditing(true);
  };

  const handleSubmit = (event: Event) => {
    event.preventDefault();
    if (blank) return;
    const fields: TaskFields = {};
    if (title.trim() !== task.title) fields.title = title.trim();
    if (notes !== task.notes) fields.notes = notes;
    if (Object.keys(fields).length > 0) onSave(task, fields);
    setEditing(false);
  };

  return (
    <Modal labelledBy="details-heading" onClose={onClose} className="details">
      {editing ? (
        <form class="dialog-form" onSubmit={handleSubmit}>
          <h2 id="details-heading">Edit task</h2>
          <label for="details-title">Title</label>
          <input
            id="details-title"
            required
            maxLength={MAX_TITLE_LENGTH}
            value={title}
            onInput={(event) => setTitle((event.currentTarget as HTMLInputElement).value)}
            autoFocus
          />
          <label for="details-notes">Notes</label>
          <textarea
            id="details-notes"
            rows={6}
            maxLength={MAX_NOTES_LENGTH}
            value={notes}
            onInput={(event) => setNotes((event.currentTarget as HTMLTextAreaElement).value)}
          />
          <div class="dialog-buttons">
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={blank}>
              Save
            </button>
          </div>
        </form>
      ) : (
        <div class="dialog-form">
          <h2 id="details-heading" class="details-title">
            {task.title}
          </h2>
          <dl class="details-facts">
            <dt>Category</dt>
            <dd>
              <span class={`category-chip chip-${task.category}`}>{LANE_LABELS[task.category]}</span>
            </dd>
            <dt>State</dt>
            <dd>{task.done ? 'Done' : 'Open'}</dd>
          </dl>
          <h3 class="details-notes-heading">Notes</h3>
          {task.notes === '' ? (
            <p class="details-notes empty">No notes.</p>
          ) : (
            <p class="details-notes">
              <Linkified text={task.notes} />
            </p>
          )}
          <div class="dialog-buttons">
            <button type="button" onClick={onClose} autoFocus>
              Back
            </button>
            <button type="button" onClick={() => onToggleDone(task)}>
              {task.done ? 'Reopen' : 'Complete'}
            </button>
            <button type="button" class="primary" onClick={startEditing}>
              Edit
            </button>
          </div>
        </div>
      )}
    </Modal>
  );
}
