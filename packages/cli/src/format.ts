import type { DiffReport, InspectReport, ValidationReport } from '@flowstate/savepoint';

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatInspect(r: InspectReport): string {
  const out: string[] = [];
  out.push(`savepoint ${r.directory}`);
  out.push(`  format v${r.formatVersion} (${r.formatDescription})`);
  out.push(`  ${r.kind} ${r.checkpointId}, taken ${new Date(r.timestamp).toISOString()}, ${bytes(r.totalBytes)} of state in ${r.operators.length} operator(s)`);
  const props = Object.entries(r.properties);
  if (props.length > 0) out.push(`  properties: ${props.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`);
  for (const op of r.operators) {
    out.push('');
    out.push(`operator '${op.uid}': parallelism ${op.parallelism}, maxParallelism ${op.maxParallelism}, ${bytes(op.stateSize)}`);
    if (op.nativeKeyedHandles > 0) out.push(`  keyed state: ${op.nativeKeyedHandles} native handle(s) (not canonical: contents not inspectable)`);
    if (op.keyGroups !== undefined) {
      const kg = op.keyGroups;
      const status = kg.covered === kg.total && kg.overlapping === 0 ? 'every key group exactly once' : `${kg.total - kg.covered} missing, ${kg.overlapping} covered twice`;
      out.push(`  key serializer: ${op.keySerializer ?? '?'}`);
      out.push(`  key groups: ${kg.covered}/${kg.total} covered (${kg.ranges.join(', ') || 'none'}): ${status}`);
    }
    if (op.keyedStates.length > 0) {
      const rows = [['KEYED STATE', 'KIND', 'NAMESPACE', 'SERIALIZER', 'ENTRIES', 'BYTES']];
      for (const s of op.keyedStates) rows.push([s.name, s.kind, s.namespaceSerializer, s.stateSerializer, s.entries === undefined ? '-' : String(s.entries), s.bytes === undefined ? '-' : bytes(s.bytes)]);
      out.push(...table(rows));
    }
    if (op.operatorStates.length > 0) {
      const rows = [['OPERATOR STATE', 'MODE', 'SERIALIZER', 'ELEMENTS']];
      for (const s of op.operatorStates) rows.push([s.name, s.mode, s.valueSerializer === undefined ? s.serializer : `${s.serializer} -> ${s.valueSerializer}`, String(s.elements)]);
      out.push(...table(rows));
    }
    if (op.keyedStates.length === 0 && op.operatorStates.length === 0 && op.nativeKeyedHandles === 0) out.push('  no state');
  }
  return out.join('\n');
}

export function formatValidation(r: ValidationReport): string {
  const out: string[] = [];
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  const warnings = r.problems.length - errors;
  if (r.ok) {
    out.push(
      `OK: ${r.directory} is a valid format v${r.formatVersion} savepoint (${r.operators} operators, ${r.filesChecked} files, ${bytes(r.bytesChecked)} checked, ${r.keyGroupBlocks} key-group blocks, ${r.records} records)` +
        (warnings > 0 ? `, ${warnings} warning(s)` : ''),
    );
  } else {
    out.push(`INVALID: ${r.directory}: ${errors} error(s), ${warnings} warning(s)`);
  }
  for (const p of r.problems) {
    out.push(`  ${p.severity} ${p.code}${p.offset === undefined ? '' : ` @${p.offset}`}: ${p.message}`);
  }
  return out.join('\n');
}

export function formatDiff(r: DiffReport, a: string, b: string): string {
  const out: string[] = [`diff ${a} ${b}: ${r.equal ? 'no differences' : 'different'}`];
  for (const op of r.operators) {
    const mark = { equal: ' ', changed: '~', added: '+', removed: '-' }[op.status];
    out.push(`${mark} operator '${op.uid}'${op.status === 'equal' ? '' : ` ${op.status}`}${op.changes.length > 0 ? `: ${op.changes.join(', ')}` : ''}`);
    for (const s of op.states) {
      const m = { equal: ' ', changed: '~', added: '+', removed: '-' }[s.status];
      const counts = s.status === 'added' ? `${s.entriesB} entries` : s.status === 'removed' ? `${s.entriesA} entries` : s.status === 'equal' ? `${s.entriesA} entries` : s.changes.join(', ');
      out.push(`  ${m} ${s.category} state '${s.name}' ${s.status}: ${counts}`);
    }
  }
  return out.join('\n');
}
