// A real OpenID provider on loopback for the identity verification tests and for trying the
// link and the reset locally (R-CRED-4): node-oidc-provider (OpenID Certified) with its own
// development sign-in pages, where any login name and any password sign in and the login name
// becomes the `sub`.
//
//   node tests/oidc/provider.mjs            # http://127.0.0.1:3001, client eccs-local / local-secret
//   PORT=0 node tests/oidc/provider.mjs     # a free port; the first line of stdout says which
//
// Environment: PORT (default 3001), CLIENT_ID (eccs-local), CLIENT_SECRET (local-secret),
// ID_TOKEN_TTL seconds (default 600). The client may be redirected to any loopback address
// ending in /callback — the service's port differs from run to run; a real provider registers
// the service's one address.
//
// The first line of stdout is JSON: {"issuer": "http://127.0.0.1:PORT"}.

import http from "node:http";
import Provider from "oidc-provider";

const port = Number(process.env.PORT ?? 3001);
const clientId = process.env.CLIENT_ID ?? "eccs-local";
const clientSecret = process.env.CLIENT_SECRET ?? "local-secret";
const idTokenTtl = Number(process.env.ID_TOKEN_TTL ?? 600);

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = http.createServer((req, res) => handler(req, res));
server.listen(port, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    // Any login name is an account; its `sub` is the name.
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ["eccs-test-provider-cookie-key"] },
    ttl: { IdToken: idTokenTtl, AuthorizationCode: 60 },
  });
  // Loopback only, any port: `redirectUriAllowed` is the provider's documented hook.
  const exact = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function (uri) {
    try {
      const u = new URL(uri);
      if (u.protocol === "http:" && u.hostname === "127.0.0.1" && u.pathname.endsWith("/callback")) return true;
    } catch {}
    return exact.call(this, uri);
  };
  handler = provider.callback();
  process.stdout.write(JSON.stringify({ issuer }) + "\n");
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
