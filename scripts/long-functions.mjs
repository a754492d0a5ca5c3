#!/usr/bin/env node
// Lists functions and methods longer than a limit (default 70 lines, signature to closing brace),
// longest first, so that the developers' guide's "short functions" can be checked and the worst
// offenders split. A report, not a gate: it never fails.
//
// Why a scanner and not a parser: TypeScript 7 (the native compiler used here) no longer ships the
// JS compiler API, and the repository has no other TS parser (see scripts/check-cycles.mjs). The
// scanner skips comments, strings, template literals and regular expressions, matches parentheses
// to find a signature's end and braces to find the body's end; it recognises declarations that
// start a line (functions, methods, accessors, constructors, arrow functions bound to a name).
// Usage: node scripts/long-functions.mjs [--min N] [root ...]   (roots default: packages)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODIFIERS = String.raw`(?:(?:export|default|async|static|public|private|protected|override|readonly|abstract|declare|get|set)\s+)*`;
const NAME = String.raw`(?:#?[A-Za-z_$][\w$]*|\[[^\]]+\])`;
const DECLARATIONS = [
  // function name<T>(   /   function* name(
  new RegExp(String.raw`^\s*${MODIFIERS}function\s*\*?\s*(${NAME})\s*(?:<[^(]*>)?\s*\(`),
  // const name = async <T>(...) =>   /   name = (...) =>   (class fields too)
  new RegExp(String.raw`^\s*${MODIFIERS}(?:const|let|var)?\s*(${NAME})\s*(?::[^=]+)?=\s*(?:async\s*)?(?:<[^(]*>)?\s*\(`),
  // methods, accessors, constructors:   async *name<T>(
  new RegExp(String.raw`^\s*${MODIFIERS}\*?\s*(${NAME})\s*(?:<[^(]*>)?\s*\(`),
];
const NOT_A_NAME = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'await', 'new', 'typeof', 'super', 'function', 'throw', 'yield', 'void', 'delete', 'else', 'do', 'import']);

/**
 * Marks which characters of `text` are code (not comment, string, template text or regex), so
 * that brackets inside them are not counted. Template `${...}` expressions are code.
 */
export function codeMask(text) {
  const code = new Uint8Array(text.length);
  const templates = []; // brace depth at which each open `${` returns to template text
  let depth = 0;
  let prevSignificant = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const n = text[i + 1];
    if (c === '/' && n === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && n === '*') {
      i = text.indexOf('*/', i + 2);
      if (i < 0) break;
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      for (i++; i < text.length && text[i] !== c && text[i] !== '\n'; i++) if (text[i] === '\\') i++;
      prevSignificant = 'x';
      continue;
    }
    if (c === '`' || (c === '}' && templates.length > 0 && templates[templates.length - 1] === depth)) {
      if (c === '}') templates.pop();
      for (i++; i < text.length && text[i] !== '`'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '$' && text[i + 1] === '{') {
          templates.push(depth);
          code[i + 1] = 0;
          i++;
          break;
        }
      }
      prevSignificant = 'x';
      continue;
    }
    // A slash starts a regex where an operand is expected (after an operator or an opening bracket).
    if (c === '/' && (prevSignificant === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prevSignificant))) {
      let inClass = false;
      for (i++; i < text.length && text[i] !== '\n'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        else if (text[i] === '/' && !inClass) break;
      }
      prevSignificant = 'x';
      continue;
    }
    code[i] = 1;
    if (c === '{') depth++;
    else if (c === '}') depth--;
    if (!/\s/.test(c)) prevSignificant = /[\w$)\]]/.test(c) ? 'x' : c;
  }
  return code;
}

/** Index of the bracket closing the one at `open` (code characters only), or -1. */
function matching(text, code, open) {
  const o = text[open];
  const close = o === '(' ? ')' : '}';
  let d = 0;
  for (let i = open; i < text.length; i++) {
    if (!code[i]) continue;
    if (text[i] === o) d++;
    else if (text[i] === close && --d === 0) return i;
  }
  return -1;
}

/** Functions of one source text: { name, line, lines }. */
export function functionsOf(text) {
  const code = codeMask(text);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (pos) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const found = [];
  for (let l = 0; l < lineStarts.length; l++) {
    const start = lineStarts[l];
    if (!code[text.slice(start).search(/\S/) + start]) continue;
    const line = text.slice(start, lineStarts[l + 1] ?? text.length);
    const m = DECLARATIONS.map((re) => re.exec(line)).find((x) => x && !NOT_A_NAME.has(x[1]));
    if (!m) continue;
    const paren = start + m.index + m[0].length - 1;
    const closeParen = matching(text, code, paren);
    if (closeParen < 0) continue;
    // The body is the first code `{` after the parameters that ends its line (inline object types
    // in a return type close on the same line); `;` or `,` first means a declaration without body.
    let body = -1;
    for (let i = closeParen + 1; i < text.length; i++) {
      if (!code[i]) continue;
      if (text[i] === ';' || (text[i] === ',' && !/=>/.test(text.slice(closeParen, i)))) break;
      if (text[i] === '{' && /^[ \t]*(\r?\n|$)/.test(text.slice(i + 1, i + 3))) {
        body = i;
        break;
      }
    }
    if (body < 0) continue;
    const end = matching(text, code, body);
    if (end < 0) continue;
    found.push({ name: m[1], line: l + 1, lines: lineOf(end) - (l + 1) + 1 });
  }
  return found;
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function main(argv) {
  let min = 70;
  const roots = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--min') min = Number(argv[++i]);
    else roots.push(argv[i]);
  }
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const rows = [];
  for (const file of (roots.length ? roots : ['packages']).flatMap((r) => walk(join(repo, r), []))) {
    for (const f of functionsOf(readFileSync(file, 'utf8'))) if (f.lines > min) rows.push({ ...f, file: relative(repo, file) });
  }
  rows.sort((a, b) => b.lines - a.lines);
  for (const r of rows) console.log(`${String(r.lines).padStart(4)}  ${r.file}:${r.line}  ${r.name}`);
  console.log(`${rows.length} function(s) over ${min} lines`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
