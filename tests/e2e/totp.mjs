// RFC 6238 TOTP (SHA-1, 6 digits, 30 s steps) for the tests: the code an authenticator app
// would show for the setup key the page displays. Nothing installed: node:crypto's HMAC.

import { createHmac } from "node:crypto";

/** RFC 4648 base32 (the setup key, spaces and padding ignored) to bytes. */
export function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code for `secret` at `at` (a Date or milliseconds). */
export function totp(secret, at) {
  const counter = Math.floor(new Date(at).getTime() / 1000 / 30);
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", base32(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, "0");
}

// RFC 6238 appendix B, SHA-1 (the seed "12345678901234567890" in base32): checked at load.
const RFC = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
for (const [seconds, code] of [[59, "287082"], [1111111109, "081804"], [1234567890, "005924"], [2000000000, "279037"]]) {
  if (totp(RFC, seconds * 1000) !== code) throw new Error(`TOTP self-check failed at ${seconds}`);
}
