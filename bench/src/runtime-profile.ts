/**
 * The runtime suite's throughput job alone, for `node --cpu-prof bench/dist/runtime-profile.js [records] [on|off]`.
 */
import { runThroughput } from './runtime.js';

const records = Number(process.argv[2] ?? 1_000_000);
const on = process.argv[3] === 'on';
const r = await runThroughput(records, on);
console.log(`${records} records, checkpointing ${on ? 'on' : 'off'}: ${Math.round(r.recordsPerSec)} records per CPU-second, ${r.completedCheckpoints} checkpoints`);
