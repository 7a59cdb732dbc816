/** ION-style node ids: `<prefix>-` + 6 characters from [a-zA-Z0-9], from WebCrypto. */

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `randomNid("sfu")` → e.g. `sfu-AbC123`. Uniform over the 62 characters (rejection sampling). */
export function randomNid(prefix: string, length = 6): string {
  let out = prefix + "-";
  const buf = new Uint8Array(length * 2);
  while (out.length < prefix.length + 1 + length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b >= 248) continue; // 248 = 4 * 62: keep the distribution uniform
      out += ALPHABET[b % 62];
      if (out.length === prefix.length + 1 + length) break;
    }
  }
  return out;
}
