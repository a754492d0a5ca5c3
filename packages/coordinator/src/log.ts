// Structured logs without a logging dependency: when the application passes no `log` function,
// coordinator messages are published on a node:diagnostics_channel, which costs nothing unless
// someone subscribes (diagnostics_channel.subscribe('flowstate:coordinator', ...)).
import { channel } from 'node:diagnostics_channel';

export const COORDINATOR_LOG_CHANNEL = 'flowstate:coordinator';

/** What a subscriber of COORDINATOR_LOG_CHANNEL receives. */
export interface CoordinatorLogRecord {
  readonly timestamp: number;
  readonly source: 'embedded-coordinator' | 'runtime';
  readonly message: string;
}

const logChannel = channel(COORDINATOR_LOG_CHANNEL);

/** A log function publishing on COORDINATOR_LOG_CHANNEL. */
export function diagnosticsLog(source: CoordinatorLogRecord['source']): (message: string) => void {
  return (message) => {
    if (logChannel.hasSubscribers) logChannel.publish({ timestamp: Date.now(), source, message } satisfies CoordinatorLogRecord);
  };
}
