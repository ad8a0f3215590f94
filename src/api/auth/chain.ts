/** The configured authenticators, built in the configured order (`authentication.order`). */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { AuthenticationConfig, AuthenticatorName } from "../config.js";
import { staticUserAuthenticator, tlsClientCertAuthenticator, type Authenticator } from "./authenticator.js";
import { KeycloakAuthenticator } from "./keycloak.js";
import { KeystoneAuthenticator } from "./keystone.js";
import { OidcAuthenticator } from "./oidc.js";
import { TokenFileAuthenticator } from "./token-file.js";

export interface ChainOptions {
  logger: Logger;
  /** Re-read the token file on SIGHUP (the API process). */
  reloadOnSighup?: boolean;
}

export function buildAuthenticators(authn: AuthenticationConfig, options: ChainOptions): Authenticator[] {
  const built: Authenticator[] = [];
  const make: Record<AuthenticatorName, () => Authenticator> = {
    static: () => staticUserAuthenticator(authn.staticUser!),
    tls: () => tlsClientCertAuthenticator(),
    token: () =>
      new TokenFileAuthenticator(authn.tokenFile!, {
        logger: options.logger,
        reloadOnSighup: options.reloadOnSighup,
      }),
    oidc: () =>
      new OidcAuthenticator({
        ...authn.oidc!,
        ca: authn.oidc!.caFile ? readFileSync(authn.oidc!.caFile) : undefined,
        logger: options.logger,
      }),
    keystone: () => new KeystoneAuthenticator({ ...authn.keystone!, logger: options.logger }),
    keycloak: () => new KeycloakAuthenticator({ ...authn.keycloak!, logger: options.logger }),
  };
  try {
    for (const name of authn.order) built.push(make[name]());
  } catch (err) {
    for (const a of built) a.close?.();
    throw err;
  }
  return built;
}
