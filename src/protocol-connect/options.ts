/**
 * Options of the Connect adapter.
 */
import type { ProtocolOptions } from "../protocol/options.js";

/** Connect adapter options: the shared {@link ProtocolOptions} plus Connect's own. */
export interface ConnectOptions extends ProtocolOptions {
  /**
   * Serve unary GET (`?connect=v1&encoding=…&message=…`). Connect means GET for side-effect-free
   * methods only; the gateway cannot see method options, so the app decides: true, false, or per path.
   * Default true. Refused GETs get 405.
   */
  allowGet?: boolean | ((path: string) => boolean);
  /** Require `Connect-Protocol-Version: 1` (`connect=v1` on GET), else 400. Default false. */
  requireProtocolVersion?: boolean;
}
