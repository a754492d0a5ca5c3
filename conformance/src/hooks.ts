import type { KeyedStateBackend } from '@flowstate/core';

/**
 * Hooks a backend may provide so that cases about its own mechanics can run. Unlike capabilities
 * (everything applies unless declared not applicable), a hook is opt-in: a case that needs a hook
 * the backend does not provide is registered as skipped ("not applicable"), never as passed.
 */
export interface ConformanceHooks {
  /**
   * Called synchronously right after the synchronous part of a keyed checkpoint (`snapshot()`
   * returned, the asynchronous part has not read anything yet). Damages the snapshot's local copy
   * of one file that the asynchronous part will upload (not the backend's live state) and returns
   * that file's name, which the resulting error must mention.
   */
  readonly corruptLocalSnapshotFile?: (backend: KeyedStateBackend<unknown>, checkpointId: number) => string;
}

export type ConformanceHookName = keyof ConformanceHooks;

export const CONFORMANCE_HOOKS: Readonly<Record<ConformanceHookName, string>> = Object.freeze({
  corruptLocalSnapshotFile:
    'The asynchronous part of a checkpoint uploads files the synchronous part left on local disk; ' +
    'they are verified before upload, and a damaged one fails the checkpoint with CorruptLocalStateError.',
});

export function isConformanceHook(value: string): value is ConformanceHookName {
  return Object.prototype.hasOwnProperty.call(CONFORMANCE_HOOKS, value);
}

/** Why a case that needs `requires` hooks is skipped, or undefined when every one is provided. */
export function hookSkipReason(requires: readonly ConformanceHookName[] | undefined, hooks: ConformanceHooks): string | undefined {
  for (const hook of requires ?? []) {
    if (hooks[hook] === undefined) return `not applicable: the backend provides no '${hook}' hook (${CONFORMANCE_HOOKS[hook]})`;
  }
  return undefined;
}

/** A misspelt hook would silently skip the case it was meant to enable; refuse it. */
export function validateHooks(input: ConformanceHooks): ConformanceHooks {
  for (const [name, fn] of Object.entries(input)) {
    if (!isConformanceHook(name)) throw new TypeError(`runConformance: unknown hook '${name}'`);
    if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`runConformance: hook '${name}' must be a function`);
  }
  return input;
}
