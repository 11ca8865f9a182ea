import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

interface ModalProps {
  /** The id of the element that names the dialog (its heading). */
  labelledBy: string;
  onClose(): void;
  children: ComponentChildren;
  className?: string;
}

/**
 * Renders a modal dialog on the native <dialog> element. showModal() makes the rest of
 * the page inert, so Tab stays inside the dialog, and Escape closes it. On close, focus
 * goes back to the element that had it before the dialog opened.
 */
export function Modal({ labelledBy, onClose, children, className }: ModalProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useLayoutEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    const previouslyFocused = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    return () => {
      if (dialog.open) dialog.close();
      if (previouslyFocused && previouslyFocused.isConnected) previouslyFocused.focus();
    };
  }, []);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    const handleClose = () => onCloseRef.current();
    dialog.addEventListener('close', handleClose);
    return () => dialog.removeEventListener('close', handleClose);
  }, []);

  return (
    <dialog ref={dialogRef} class={`modal ${className ?? ''}`} aria-labelledby={labelledBy}>
      {children}
    </dialog>
  );
}
