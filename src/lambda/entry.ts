import { createLogger } from './log.js';

/**
 * A Lambda entry point that builds its handler on the first invocation of a container (reading and
 * validating process.env once) and reuses it. A configuration error is logged as a JSON line and
 * thrown on every invocation, so the function fails visibly until its environment is fixed.
 */
export function lazyEntry<H extends (event: unknown, context?: never) => Promise<unknown>>(
  build: () => H,
): H {
  let handler: H | undefined;
  return (async (event: unknown, context?: never) => {
    if (!handler) {
      try {
        handler = build();
      } catch (error) {
        createLogger().error('invalid configuration', { error });
        throw error;
      }
    }
    return handler(event, context);
  }) as H;
}
