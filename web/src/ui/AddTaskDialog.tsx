import { useState } from 'preact/hooks';
import { CATEGORIES, MAX_NOTES_LENGTH, MAX_TITLE_LENGTH, type Category } from '../state/types';
import { LANE_LABELS } from './labels';
import { Modal } from './Modal';

interface AddTaskDialogProps {
  onSave(title: string, notes: string, category: Category): void;
  onClose(): void;
}

export function AddTaskDialog({ onSave, onClose }: AddTaskDialogProps) {
  const [title, setTitle] = useState('');
  const [notes, setNotes] = useState('');
  const [category, setCategory] = useState<Category>('normal');
  const blank = title.trim() === '';

  const handleSubmit = (event: Event) => {
    event.preventDefault();
    if (blank) return;
    onSave(title.trim(), notes, category);
    onClose();
  };

  return (
    <Modal labelledBy="add-task-heading" onClose={onClose}>
      <form class="dialog-form" onSubmit={handleSubmit}>
        <h2 id="add-task-heading">Add task</h2>
        <label for="add-title">Title</label>
        <input
          id="add-title"
          name="title"
          required
          maxLength={MAX_TITLE_LENGTH}
          value={title}
          onInput={(event) => setTitle((event.currentTarget as HTMLInputElement).value)}
          autoFocus
        />
        <label for="add-notes">Notes</label>
        <textarea
          id="add-notes"
          name="notes"
          rows={4}
          maxLength={MAX_NOTES_LENGTH}
          value={notes}
          onInput={(event) => setNotes((event.currentTarget as HTMLTextAreaElement).value)}
        />
        <label for="add-category">Category</label>
        <select
          id="add-category"
          name="category"
          value={category}
          onChange={(event) => setCategory((event.currentTarget as HTMLSelectElement).value as Category)}
        >
          {CATEGORIES.map((option) => (
            <option key={option} value={option}>
              {LANE_LABELS[option]}
            </option>
          ))}
        </select>
        <div class="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={blank}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}
