import type { SessionStatus } from '../state/session';

interface StatusBarProps {
  status: SessionStatus;
  onDismiss(id: string): void;
}

/** Shows pending changes, the connection state and rejected changes. */
export function StatusBar({ status, onDismiss }: StatusBarProps) {
  const lost = !status.browserOnline || (status.streamEverConnected && !status.streamConnected);
  return (
    <div class="status-bar">
      <div class="status-line" role="status" aria-live="polite">
        {status.pendingCount > 0 && (
          <span class="status-pending">
            {status.pendingCount === 1 ? '1 change pending' : `${status.pendingCount} changes pending`}
          </span>
        )}
        {lost && (
          <span class="status-lost">Connection lost: changes are kept and sent when it returns</span>
        )}
        {!lost && status.queueProblem && status.pendingCount > 0 && (
          <span class="status-retry">Retrying ({status.queueProblem})</span>
        )}
        {status.needsSignIn && <span class="status-lost">Sign in again to send your changes</span>}
      </div>
      {status.notices.length > 0 && (
        <ul class="notices" role="alert">
          {status.notices.map((notice) => (
            <li key={notice.id}>
              <span>{notice.message}</span>
              <button type="button" onClick={() => onDismiss(notice.id)} aria-label="Dismiss message">
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
