/**
 * Resolves once the event loop has run its I/O callbacks and timers (a macrotask, `setImmediate`):
 * a long synchronous stretch of work lets completions that arrived meanwhile be handled. Internal
 * to core (the snapshot runner's slices and the key-group block reader's turns).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
