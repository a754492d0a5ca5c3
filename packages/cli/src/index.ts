export { run, createProgram, type CliIO } from './cli.js';
export { ExitCode, exitCodeFor, type ExitCodeValue } from './exit-codes.js';
