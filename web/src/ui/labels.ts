import type { LaneKey } from '../state/types';

export const LANE_LABELS: Record<LaneKey, string> = {
  critical: 'Critical',
  fun: 'Fun',
  important: 'Important',
  normal: 'Normal',
  done: 'Done',
};
