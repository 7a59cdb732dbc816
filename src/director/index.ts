/** The Director: authenticate → route → balance → forward. */
export { createDirector, type Director, type DirectorOptions, type MethodKind } from "./director.js";
export { createRouteTable, type RouteTable } from "./route.js";
export type { CallInfo, CallOutcome, DirectorAuthenticator, DirectorBalancer, DirectorNodeSource, DirectorObserver } from "./types.js";
