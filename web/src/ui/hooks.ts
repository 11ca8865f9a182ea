import { useEffect, useState } from 'preact/hooks';
import type { BoardStore } from '../state/board-store';
import type { Session, SessionStatus } from '../state/session';

/** Re-renders the caller whenever the store changes; returns the store's version. */
export function useStoreVersion(store: BoardStore): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    setVersion(store.version);
    return store.subscribe(() => setVersion(store.version));
  }, [store]);
  return version;
}

export function useSessionStatus(session: Session): SessionStatus {
  const [status, setStatus] = useState(session.status);
  useEffect(() => {
    setStatus(session.status);
    return session.subscribeStatus(() => setStatus(session.status));
  }, [session]);
  return status;
}
