// The long-function scanner must measure bodies, not brackets in strings, templates, regexes or
// type annotations, or its list is noise.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { functionsOf } from './long-functions.mjs';

const lines = (n, text) => Array.from({ length: n }, () => text).join('\n');

describe('long-functions scanner', () => {
  it('measures functions, methods, arrows and accessors from signature to closing brace', () => {
    const src = [
      'export async function a(x: { y: number } = { y: 1 }): Promise<{ z: string }> {', // 1
      lines(3, '  const s = `}${"{"}` + "}" + /[}]/.source;'), // 2-4
      '}', // 5
      'class C {', // 6
      '  private static async *m<T>(', // 7
      '    v: T,', // 8
      '  ): AsyncGenerator<T> {', // 9
      '    yield v; // }', // 10
      '  }', // 11
      '  get g(): number {', // 12
      '    return 1; /* } */', // 13
      '  }', // 14
      '}', // 15
      'const f = async (q: number): Promise<void> => {', // 16
      '  if (q) {', // 17
      '    await 0;', // 18
      '  }', // 19
      '};', // 20
      'declare function d(x: number): void;', // 21
    ].join('\n');
    assert.deepEqual(
      functionsOf(src).map((f) => `${f.name}@${f.line}:${f.lines}`),
      ['a@1:5', 'm@7:5', 'g@12:3', 'f@16:5'],
    );
  });

  it('does not take control flow for a function', () => {
    assert.deepEqual(functionsOf('function o() {\n  if (x) {\n    for (;;) {\n    }\n  }\n}\n').map((f) => f.name), ['o']);
  });
});
