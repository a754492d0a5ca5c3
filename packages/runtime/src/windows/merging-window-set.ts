import { IllegalStateUsageError, type ValueState, type Window } from '@flowstate/core';
import type { MergingWindowAssigner } from './assigners.js';

/**
 * Called when windows merge: `mergeResult` replaces `mergedWindows` (the new window is not among
 * them), whose state lives in `mergedStateWindows` and moves to `stateWindowResult`.
 */
export type MergeFunction<W> = (mergeResult: W, mergedWindows: readonly W[], stateWindowResult: W, mergedStateWindows: readonly W[]) => void;

/**
 * The in-flight windows of one key of a merging assigner, and the state window of each (Flink's
 * MergingWindowSet). Merging renames a window without moving its state: the result keeps the
 * namespace of one of the merged windows (its state window), and only the others' state is merged
 * into it. The mapping is keyed state, so it is checkpointed, restored and rescaled with the key:
 * one value of [window, state window] pairs, read and written whole, as Flink's list of tuples is
 * (a map state would cost an iterator per element on RocksDB).
 */
export class MergingWindowSet<W extends Window> {
  /** window id -> [window, state window] */
  private readonly mapping = new Map<string, [W, W]>();
  private changed = false;

  constructor(
    private readonly assigner: Pick<MergingWindowAssigner<unknown, W>, 'mergeWindows'>,
    private readonly state: ValueState<W[][]>,
  ) {
    for (const pair of state.value() ?? []) {
      if (pair.length !== 2) throw new IllegalStateUsageError('merging-window-set', `an entry holds ${pair.length} windows instead of a window and its state window`);
      this.mapping.set(pair[0]!.id, [pair[0]!, pair[1]!]);
    }
  }

  /** Writes the mapping back when it changed. */
  persist(): void {
    if (!this.changed) return;
    this.state.update(this.mapping.size === 0 ? null : [...this.mapping.values()]);
    this.changed = false;
  }

  /** The state window of an in-flight window; undefined when the window merged away or was retired. */
  getStateWindow(window: W): W | undefined {
    return this.mapping.get(window.id)?.[1];
  }

  /** Removes a window that was purged for good. */
  retireWindow(window: W): void {
    if (!this.mapping.delete(window.id)) throw new IllegalStateUsageError('merging-window-set', `window ${String(window)} is not in the in-flight window set`);
    this.changed = true;
  }

  /**
   * Adds `newWindow`, merging it with in-flight windows where the assigner says so; returns the
   * window it ended up in (itself, or a merge result). `merge` hears every merge of in-flight windows.
   */
  addWindow(newWindow: W, merge: MergeFunction<W>): W {
    const windows = [...this.mapping.values()].map(([w]) => w);
    windows.push(newWindow);
    const results: Array<[W, W[]]> = [];
    this.assigner.mergeWindows(windows, (toBeMerged, mergeResult) => results.push([mergeResult, toBeMerged]));
    let resultWindow = newWindow;
    let mergedNewWindow = false;
    for (const [mergeResult, group] of results) {
      const i = group.findIndex((w) => w.id === newWindow.id);
      // The new window has no state of its own yet: it joins the result without being merged.
      const mergedWindows = i < 0 ? group : group.filter((_, j) => j !== i);
      if (i >= 0) {
        mergedNewWindow = true;
        resultWindow = mergeResult;
      }
      this.mergeGroup(mergeResult, mergedWindows, merge);
    }
    if (results.length === 0 || (resultWindow.id === newWindow.id && !mergedNewWindow)) {
      this.mapping.set(resultWindow.id, [resultWindow, resultWindow]);
      this.changed = true;
    }
    return resultWindow;
  }

  private mergeGroup(mergeResult: W, mergedWindows: readonly W[], merge: MergeFunction<W>): void {
    // Any merged window's state window will do: keep the first, merge the others into it.
    const stateWindowResult = this.mapping.get(mergedWindows[0]!.id)![1];
    const mergedStateWindows: W[] = [];
    for (const w of mergedWindows) {
      const entry = this.mapping.get(w.id);
      if (entry === undefined) continue;
      this.mapping.delete(w.id);
      if (entry[1].id !== stateWindowResult.id) mergedStateWindows.push(entry[1]);
    }
    this.mapping.set(mergeResult.id, [mergeResult, stateWindowResult]);
    this.changed = true;
    // A lone window merged with the new one into itself: nothing merged, nothing to tell.
    if (mergedWindows.length === 1 && mergedWindows[0]!.id === mergeResult.id) return;
    merge(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows);
  }

  toString(): string {
    return `MergingWindowSet{${[...this.mapping.values()].map(([w, s]) => `${String(w)}=${String(s)}`).join(', ')}}`;
  }
}
