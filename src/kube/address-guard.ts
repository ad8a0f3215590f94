/**
 * Which addresses the application controller may download TOSCA templates and CSAR archives from. The URLs
 * come from users, and the controller runs inside the operator's network: without a guard, an application
 * could make it fetch the cloud's instance metadata (169.254.169.254, which hands out credentials on most
 * clouds) and report fragments of the answer back in the app's status.
 *
 * Addresses are checked after DNS resolution, on the address actually connected to (the guard is the
 * socket's `lookup`), so neither a DNS name pointing at a denied address nor a redirect to one gets through,
 * and a name cannot resolve to one address when checked and another when connected (DNS rebinding).
 *
 * Loopback and private ranges are not denied by default: on-premises installations and the test suites
 * serve templates from them. Operators who want them denied add them to the list.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/** Link-local ranges (cloud metadata services live there) and AWS's IPv6 metadata address. */
export const DEFAULT_DENIED_NETWORKS = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

/** A download went to, or was redirected to, a denied address. */
export class DeniedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, which is in a network downloads may not reach`);
    this.name = "DeniedAddressError";
  }
}

/** Parses `a.b.c.d/n` and `x::/n` networks (a bare address is one host); throws naming the bad entry. */
export function parseNetworks(
  list: readonly string[],
): { address: string; prefix: number; family: "ipv4" | "ipv6" }[] {
  return list.map((entry) => {
    const [address, prefixText, extra] = entry.trim().split("/");
    const version = isIP(address);
    const max = version === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (version === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new Error(`'${entry}' is not a network such as 169.254.0.0/16 or fe80::/10`);
    }
    return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
  });
}

export class AddressGuard {
  private readonly denied = new BlockList();

  constructor(readonly networks: readonly string[] = DEFAULT_DENIED_NETWORKS) {
    for (const n of parseNetworks(networks)) this.denied.addSubnet(n.address, n.prefix, n.family);
  }

  /** Whether `address` (an IP literal; IPv4-mapped IPv6 counts as IPv4) may not be connected to. */
  refuses(address: string): boolean {
    const version = isIP(address);
    if (version === 0) return false;
    return this.denied.check(address, version === 4 ? "ipv4" : "ipv6");
  }

  /** Throws DeniedAddressError when `hostname` is an IP literal in a denied network. */
  checkLiteral(hostname: string): void {
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    if (this.refuses(bare)) throw new DeniedAddressError(hostname, bare);
  }

  /** A socket `lookup` that fails with DeniedAddressError when any address of the name is denied. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      const bad = addresses.find((a) => this.refuses(a.address));
      if (bad)
        return callback(
          Object.assign(new DeniedAddressError(hostname, bad.address), { code: "EDENIED" }),
          "",
          0,
        );
      if ((options as LookupOptions).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
