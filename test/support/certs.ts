/** Throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and client certificates. */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Paths of a client certificate and key whose subject CN is `cn`. */
  client(cn: string): Promise<{ cert: string; key: string }>;
}

function openssl(args: string[], cwd: string) {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "krake-pki-"));
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=krake-test-ca"], dir);
  const sign = async (name: string, cn: string, server: boolean) => {
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
    const ext = join(dir, `${name}.ext`);
    await writeFile(ext, server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n");
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", ext], dir);
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  const server = await sign("server", "127.0.0.1", true);
  let n = 0;
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    serverCert: server.cert,
    serverKey: server.key,
    client: (cn: string) => sign(`client${n++}`, cn, false),
  };
}

export const read = (p: string) => readFile(p);
