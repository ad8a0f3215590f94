/**
 * `krake pki`: the certificates a secure installation needs, without openssl — a CA, the API's serving
 * certificate, one client certificate per controller (its CN is the user the roles in
 * support/base_roles.yaml are bound to), one for the administrator, and a signing CA for the hooks' client
 * certificates. Keys are written with mode 0600 and nothing is overwritten unless asked.
 */
import { Command, InvalidArgumentError } from "commander";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { createCertificate, type CertificateAndKey } from "../util/x509.js";

/** The user each controller authenticates as: Krake's names (templates/bootstrapping/base_roles.yaml). */
export const CONTROLLER_CERT_USERS: Record<string, string> = {
  scheduler: "system:scheduler",
  gc: "system:gc",
  infrastructure: "system:infrastructure",
  cluster: "system:kubernetes-cluster",
  application: "system:kubernetes-application",
  autoscaler: "system:autoscaler",
};

export interface PkiLayout {
  /** File stem (without `.crt`/`.key`) → what it is, for the summary. */
  files: { stem: string; what: string }[];
}

class PkiError extends Error {}

function writePair(dir: string, stem: string, pair: CertificateAndKey, force: boolean): void {
  const cert = join(dir, `${stem}.crt`);
  const key = join(dir, `${stem}.key`);
  for (const file of [cert, key])
    if (!force && existsSync(file)) throw new PkiError(`${file} exists; use --force to replace it`);
  writeFileSync(key, pair.keyPem, { mode: 0o600 });
  writeFileSync(cert, pair.certPem, { mode: 0o644 });
}

function readCa(dir: string): { certPem: string; keyPem: string } {
  try {
    return {
      certPem: readFileSync(join(dir, "ca.crt"), "utf8"),
      keyPem: readFileSync(join(dir, "ca.key"), "utf8"),
    };
  } catch (err) {
    throw new PkiError(
      `cannot read the CA in ${dir} (ca.crt, ca.key): ${(err as NodeJS.ErrnoException).code ?? err}; run krake pki init first`,
    );
  }
}

/** Splits `--api-host` values into the certificate's DNS names and IP addresses. */
export function subjectAltNames(hosts: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const host of hosts
    .flatMap((h) => h.split(","))
    .map((h) => h.trim())
    .filter(Boolean)) {
    if (isIP(host)) ipAddresses.push(host);
    else if (
      /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
    )
      dnsNames.push(host);
    else throw new PkiError(`--api-host: ${JSON.stringify(host)} is neither a DNS name nor an IP address`);
  }
  return { dnsNames, ipAddresses };
}

export function initPki(opts: { dir: string; apiHosts: string[]; days: number; force: boolean }): PkiLayout {
  const san = subjectAltNames(opts.apiHosts);
  if (san.dnsNames.length + san.ipAddresses.length === 0)
    throw new PkiError("--api-host: give at least one name or address clients use to reach the API");
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const files: PkiLayout["files"] = [];
  const ca = createCertificate({ commonName: "krake-ca", isCA: true, validityDays: opts.days * 5 });
  writePair(opts.dir, "ca", ca, opts.force);
  files.push({
    stem: "ca",
    what: "the CA: --tls-client-ca of the API, --tls-ca of every client (keep ca.key offline)",
  });
  const issuer = { certPem: ca.certPem, keyPem: ca.keyPem };
  writePair(
    opts.dir,
    "api",
    createCertificate({
      commonName: san.dnsNames[0] ?? san.ipAddresses[0]!,
      ...san,
      issuer,
      extKeyUsage: ["serverAuth"],
      validityDays: opts.days,
    }),
    opts.force,
  );
  files.push({
    stem: "api",
    what: `the API's serving certificate for ${[...san.dnsNames, ...san.ipAddresses].join(", ")}`,
  });
  const client = (stem: string, cn: string, what: string) => {
    writePair(
      opts.dir,
      stem,
      createCertificate({ commonName: cn, issuer, extKeyUsage: ["clientAuth"], validityDays: opts.days }),
      opts.force,
    );
    files.push({ stem, what });
  };
  client("admin", "system:admin", "system:admin, bound to the admin role");
  for (const [controller, user] of Object.entries(CONTROLLER_CERT_USERS))
    client(`controller-${controller}`, user, `the ${controller} controller (${user})`);
  writePair(
    opts.dir,
    "hook-signing",
    createCertificate({ commonName: "krake-hook-signing", isCA: true, issuer, validityDays: opts.days }),
    opts.force,
  );
  files.push({
    stem: "hook-signing",
    what: "signs the hooks' client certificates: --hook-ca-cert/--hook-ca-key of the application controller",
  });
  return { files };
}

export function issueClientCertificate(opts: {
  dir: string;
  commonName: string;
  stem: string;
  days: number;
  force: boolean;
}): void {
  if (!opts.commonName.trim()) throw new PkiError("--cn: the user name must not be empty");
  const issuer = readCa(opts.dir);
  writePair(
    opts.dir,
    opts.stem,
    createCertificate({
      commonName: opts.commonName,
      issuer,
      extKeyUsage: ["clientAuth"],
      validityDays: opts.days,
    }),
    opts.force,
  );
}

const days = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new InvalidArgumentError("expected a whole number from 1 to 3650");
  return n;
};

function run(command: string, action: () => void): void {
  try {
    action();
  } catch (err) {
    process.stderr.write(`${command}: ${(err as Error).message}\n`);
    process.exit(err instanceof PkiError ? 1 : 2);
  }
}

export function pkiCommand(): Command {
  const pki = new Command("pki").description(
    "Create the certificates of a TLS installation (CA, API, controllers, admin, hooks)",
  );
  pki
    .command("init")
    .description("Create a CA and every certificate Krake's processes need, in one directory")
    .requiredOption(
      "--api-host <names>",
      "DNS names and IP addresses clients use to reach the API (comma-separated, repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--dir <dir>", "where to write the files", "./pki")
    .option("--days <n>", "validity of the certificates (the CA: five times as long)", days, 365)
    .option("--force", "replace files that exist")
    .addHelpText(
      "after",
      "\nExample:\n  $ krake pki init --api-host krake.example.org,10.0.0.5 --dir /etc/krake/pki\n",
    )
    .action((flags) =>
      run("krake pki init", () => {
        const layout = initPki({
          dir: flags.dir,
          apiHosts: flags.apiHost,
          days: flags.days,
          force: Boolean(flags.force),
        });
        const lines = layout.files.map((f) => `  ${f.stem}.crt, ${f.stem}.key: ${f.what}`);
        process.stdout.write(`Wrote to ${flags.dir}:\n${lines.join("\n")}\n`);
      }),
    );
  pki
    .command("issue")
    .description("Issue a client certificate for a user, signed by the CA of `krake pki init`")
    .requiredOption("--cn <user>", "the user name (the certificate's subject CN)")
    .option("--dir <dir>", "the directory of `krake pki init`", "./pki")
    .option("--out <stem>", "file name without .crt/.key (default: the user name with ':' replaced by '-')")
    .option("--days <n>", "validity", days, 365)
    .option("--force", "replace files that exist")
    .action((flags) =>
      run("krake pki issue", () => {
        const stem = flags.out ?? String(flags.cn).replace(/[^A-Za-z0-9._-]/g, "-");
        issueClientCertificate({
          dir: flags.dir,
          commonName: flags.cn,
          stem,
          days: flags.days,
          force: Boolean(flags.force),
        });
        process.stdout.write(
          `Wrote ${join(flags.dir, `${stem}.crt`)} and ${join(flags.dir, `${stem}.key`)} for ${flags.cn}\n`,
        );
      }),
    );
  return pki;
}
