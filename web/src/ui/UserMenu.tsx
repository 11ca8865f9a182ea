import { useEffect, useRef, useState } from 'preact/hooks';
import { TasksPerCategoryDebouncer } from '../state/settings-debounce';
import { MAX_TASKS_PER_CATEGORY, type Settings } from '../state/types';

interface UserMenuProps {
  userName: string;
  settings: Settings;
  onUpdateSettings(patch: Partial<Settings>): void;
  onSignOut(): void;
}

/** Renders the user menu: a disclosure button and a panel with the settings and sign-out. */
export function UserMenu({ userName, settings, onUpdateSettings, onSignOut }: UserMenuProps) {
  const [open, setOpen] = useState(false);
  const [perCategoryText, setPerCategoryText] = useState(String(settings.tasksPerCategory));
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const inputFocused = useRef(false);
  const sendRef = useRef(onUpdateSettings);
  sendRef.current = onUpdateSettings;

  const debouncerRef = useRef<TasksPerCategoryDebouncer | null>(null);
  if (!debouncerRef.current) {
    debouncerRef.current = new TasksPerCategoryDebouncer(
      {
        send: (value) => sendRef.current({ tasksPerCategory: value }),
        schedule: (callback, ms) => {
          const timer = setTimeout(callback, ms);
          return () => clearTimeout(timer);
        },
      },
      settings.tasksPerCategory,
    );
  }
  const debouncer = debouncerRef.current;

  useEffect(() => () => debouncer.dispose(), [debouncer]);

  // Show changes made elsewhere (another tab) unless the user is typing in the field.
  useEffect(() => {
    debouncer.setServerValue(settings.tasksPerCategory);
    if (!inputFocused.current) setPerCategoryText(String(settings.tasksPerCategory));
  }, [settings.tasksPerCategory, debouncer]);

  useEffect(() => {
    if (!open) return;
    const handlePointer = (event: MouseEvent) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) setOpen(false);
    };
    const handleKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    document.addEventListener('mousedown', handlePointer);
    document.addEventListener('keydown', handleKey);
    return () => {
      document.removeEventListener('mousedown', handlePointer);
      document.removeEventListener('keydown', handleKey);
    };
  }, [open]);

  const invalid = !/^\s*\d+\s*$/.test(perCategoryText) || Number(perCategoryText) < 1 || Number(perCategoryText) > MAX_TASKS_PER_CATEGORY;

  return (
    <div class="user-menu" ref={rootRef}>
      <button
        type="button"
        ref={buttonRef}
        class="user-button"
        aria-expanded={open}
        aria-controls="user-menu-panel"
        aria-label={`User menu: ${userName}`}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">☰</span> <span class="user-name">{userName}</span>
      </button>
      <div id="user-menu-panel" class="user-menu-panel" hidden={!open}>
        <p class="signed-in-as">Signed in as {userName}</p>
        <label for="tasks-per-category">Tasks per category</label>
        <input
          id="tasks-per-category"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_TASKS_PER_CATEGORY}
          step={1}
          value={perCategoryText}
          aria-invalid={invalid}
          aria-describedby="tasks-per-category-hint"
          onFocus={() => {
            inputFocused.current = true;
          }}
          onInput={(event) => {
            const text = (event.currentTarget as HTMLInputElement).value;
            setPerCategoryText(text);
            debouncer.input(text);
          }}
          onBlur={() => {
            inputFocused.current = false;
            debouncer.blur();
          }}
        />
        <p id="tasks-per-category-hint" class={`hint${invalid ? ' invalid' : ''}`}>
          A whole number from 1 to {MAX_TASKS_PER_CATEGORY}.
        </p>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={settings.showDoneTasks}
            onChange={(event) => onUpdateSettings({ showDoneTasks: (event.currentTarget as HTMLInputElement).checked })}
          />
          Show done tasks
        </label>
        <button type="button" class="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </div>
  );
}
