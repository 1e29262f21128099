/**
 * The time as Portier's request handling sees it, in milliseconds since the epoch:
 * `Date.now` in production. It is a parameter of the app (AppDeps.clock) so that tests
 * can move it forward — past a client's expiry or a secret's grace period — instead of
 * waiting for real time to pass.
 */
export type Clock = () => number;

export const systemClock: Clock = Date.now;
