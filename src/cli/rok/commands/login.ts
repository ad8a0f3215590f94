/**
 * `rok login` / `rok logout`: sign in at the OpenID Connect issuer the Krake API trusts, with a password
 * (resource-owner password grant) or in a browser on any device (device authorization grant), and keep the
 * tokens for later commands. Tokens are stored, never printed.
 */
import { Command, Option } from "commander";
import { loadConfig } from "../config.js";
import { credentialsPath, removeLogin, saveLogin, storedLogin } from "../credentials.js";
import { CliError, describeError } from "../errors.js";
import { readFileOrFail } from "../files.js";
import { deviceGrant, discover, passwordGrant, type OidcSettings } from "../oidc.js";
import { obtainPassword } from "../password.js";
import { context, run } from "../common.js";

interface LoginFlags {
  config?: string;
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  caFile?: string;
  username?: string;
  passwordStdin?: boolean;
  device?: boolean;
}

export function loginCommands(program: Command): void {
  program
    .command("login")
    .description("Sign in at the API's OpenID Connect issuer and keep the tokens for later rok commands")
    .option("--config <path>", "configuration file (default: rok.yaml/krakectl.yaml lookup, see docs)")
    .option("--issuer <url>", "OIDC issuer URL (default: oidc.issuer in the configuration file)")
    .option("--client-id <id>", "OIDC client id (default: oidc.client_id)")
    .option(
      "--client-secret <secret>",
      "OIDC client secret, for confidential clients (default: oidc.client_secret)",
    )
    .option("--scope <scopes>", "space-separated scopes (default: oidc.scope, else openid)")
    .option("--ca-file <file>", "CA certificate (PEM) of the issuer (default: oidc.ca_file)")
    .addOption(
      new Option("--username <name>", "sign in with this user's password (password grant)").conflicts(
        "device",
      ),
    )
    .option("--password-stdin", "read the password from stdin instead of prompting")
    .option("--device", "sign in in a browser, on this or another device (device authorization grant)")
    .addHelpText(
      "after",
      [
        "",
        "The tokens go to rok-credentials.json beside the configuration file (mode 0600), one login per api_url;",
        "commands use them when neither KRAKE_TOKEN nor token: is set, and refresh them before they expire.",
        "",
        "Examples:",
        "  $ rok login --issuer https://keycloak.example/realms/krake --client-id rok --username alice",
        "  $ rok login --device",
        '  $ echo "$PASSWORD" | rok login --username alice --password-stdin',
        "",
      ].join("\n"),
    )
    .action(run(login));

  program
    .command("logout")
    .description("Forget the tokens of rok login for the configured API")
    .option("--config <path>", "configuration file (default: rok.yaml/krakectl.yaml lookup, see docs)")
    .addHelpText("after", "\nExample:\n  $ rok logout\n")
    .action(
      run(async (flags: { config?: string }) => {
        const config = loadConfig(flags.config);
        const removed = removeLogin(credentialsPath(config), config.api_url);
        process.stdout.write(
          removed ? `Logged out of ${config.api_url}.\n` : `Not logged in to ${config.api_url}.\n`,
        );
      }),
    );
}

async function login(flags: LoginFlags): Promise<void> {
  const config = loadConfig(flags.config);
  const issuer = flags.issuer ?? config.oidc?.issuer;
  const clientId = flags.clientId ?? config.oidc?.client_id;
  if (!issuer)
    throw new CliError("no OIDC issuer: pass --issuer URL or set oidc.issuer in the configuration file");
  if (!clientId)
    throw new CliError("no OIDC client: pass --client-id ID or set oidc.client_id in the configuration file");
  if (!flags.device && !flags.username)
    throw new CliError("choose a flow: --username NAME (password) or --device (sign in in a browser)");
  const caFile = flags.caFile ?? config.oidc?.ca_file;
  const settings: OidcSettings & { caFile?: string } = {
    issuer,
    clientId,
    clientSecret: flags.clientSecret ?? config.oidc?.client_secret,
    scope: flags.scope ?? config.oidc?.scope ?? "openid",
    ca: caFile ? readFileOrFail(caFile, "--ca-file") : undefined,
    caFile,
  };
  const discovery = await discover(settings);
  const tokens = flags.device
    ? await deviceGrant(settings, discovery, (prompt) => {
        process.stderr.write(
          `To sign in, open ${prompt.verification_uri} and enter the code ${prompt.user_code}\n` +
            (prompt.verification_uri_complete ? `(or open ${prompt.verification_uri_complete})\n` : "") +
            "Waiting for the sign-in to be approved…\n",
        );
      })
    : await passwordGrant(
        settings,
        discovery,
        flags.username!,
        await obtainPassword({ passwordStdin: flags.passwordStdin }, `${flags.username} at ${issuer}`),
      );
  const path = credentialsPath(config);
  saveLogin(path, config.api_url, storedLogin(settings, tokens));
  if (config.token)
    process.stderr.write(
      "Warning: KRAKE_TOKEN or token: in the configuration is set and is used instead of this login\n",
    );
  // Ask the API who it thinks we are: proves that it trusts this issuer and audience.
  try {
    // The client of every command: TLS settings of the file, and the login just stored.
    const me = await context({ config: flags.config }).client.me();
    process.stdout.write(`Logged in to ${config.api_url} as ${me.user} (tokens in ${path}).\n`);
  } catch (err) {
    throw new CliError(
      `signed in at the issuer, but the API at ${config.api_url} did not accept the token: ${describeError(err).replace(/^Error: /, "")}`,
    );
  }
}
