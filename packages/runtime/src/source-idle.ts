/** What SourceFunction.pollNext returns when it has nothing to emit for now (not the end of input). */
export const SOURCE_IDLE: unique symbol = Symbol('SOURCE_IDLE');
