import { assert } from '../assert.js';

/** An inclusive range of key groups [startKeyGroup, endKeyGroup]; empty when end < start. */
export class KeyGroupRange implements Iterable<number> {
  static readonly EMPTY = new KeyGroupRange(0, -1);

  constructor(
    readonly startKeyGroup: number,
    readonly endKeyGroup: number,
  ) {
    assert(Number.isInteger(startKeyGroup) && Number.isInteger(endKeyGroup), 'key group bounds are integers');
    assert(startKeyGroup >= 0, `key group range start ${startKeyGroup} >= 0`);
    assert(endKeyGroup >= startKeyGroup - 1, `key group range [${startKeyGroup}, ${endKeyGroup}] is well-formed`);
  }

  static of(start: number, end: number): KeyGroupRange {
    return end < start ? KeyGroupRange.EMPTY : new KeyGroupRange(start, end);
  }

  static fromJSON(json: { start: number; end: number }): KeyGroupRange {
    return KeyGroupRange.of(json.start, json.end);
  }

  get numberOfKeyGroups(): number {
    return Math.max(0, this.endKeyGroup - this.startKeyGroup + 1);
  }

  get isEmpty(): boolean {
    return this.numberOfKeyGroups === 0;
  }

  contains(keyGroup: number): boolean {
    return keyGroup >= this.startKeyGroup && keyGroup <= this.endKeyGroup;
  }

  intersection(other: KeyGroupRange): KeyGroupRange {
    return KeyGroupRange.of(Math.max(this.startKeyGroup, other.startKeyGroup), Math.min(this.endKeyGroup, other.endKeyGroup));
  }

  equals(other: KeyGroupRange): boolean {
    return (this.isEmpty && other.isEmpty) || (this.startKeyGroup === other.startKeyGroup && this.endKeyGroup === other.endKeyGroup);
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let g = this.startKeyGroup; g <= this.endKeyGroup; g++) yield g;
  }

  toJSON(): { start: number; end: number } {
    return { start: this.startKeyGroup, end: this.endKeyGroup };
  }

  toString(): string {
    return this.isEmpty ? 'KeyGroupRange{EMPTY}' : `KeyGroupRange{${this.startKeyGroup}..${this.endKeyGroup}}`;
  }
}
