/**
 * Authentication and authorization at the edge: the Director calls {@link createAuthenticator}'s
 * `authenticate` before anything touches NATS.
 *
 * ```ts
 * const auth = createAuthenticator(parseAuthConfig(toml.signal?.jwt));
 * await auth.ready();                                     // fail fast on a broken key
 * const clean = withoutClaimHeaders(call.metadata, auth.claimHeaderNames);
 * const { claims, forward } = await auth.authenticate({ metadata: call.metadata, service, method, path });
 * // outgoing metadata = clean + forward
 * ```
 */
export { createAuthenticator } from "./authenticator.js";
export type { AuthRequest, AuthResult, Authenticator, AuthenticatorOptions, AuthStats } from "./authenticator.js";
export { parseAuthConfig, AUTH_DEFAULTS } from "./auth-config.js";
export type { AuthConfig, AuthKey, AuthKeySource, AuthJwksConfig, AuthRule, ClaimScalar, ForwardClaim } from "./auth-config.js";
export type { IonClaims } from "./ion-claims.js";
export { mintToken } from "./mint-token.js";
export type { MintTokenOptions } from "./mint-token.js";
export { servicesAllow, ruleMatches } from "./authorize.js";
export { withoutClaimHeaders, encodeMetadataValue } from "./claim-metadata.js";
export { extractToken } from "./extract-token.js";
export { ALGORITHMS_BY_KIND, DEFAULT_JWKS_ALGORITHMS, isJwsAlgorithm } from "./algorithms.js";
export type { JwsAlgorithm, KeyKind } from "./algorithms.js";
