/** Room for a frame's own fields on top of its event data. */
export const FRAME_OVERHEAD_BYTES = 64 * 1024;

/**
 * The longest duration in ms any option, flag or request may give: the most a Node
 * timer can wait (2^31-1). A longer one would fire after 1 ms, warning each time.
 */
export const MAX_MS = 2_147_483_647;
