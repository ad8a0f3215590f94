/**
 * Which infrastructure provider builds a cluster, and with which credentials: the cloud the cluster is
 * scheduled to, that cloud's (Global)InfrastructureProvider, the provider client. Shared by the
 * infrastructure controller (which builds, scales and deletes through it) and the autoscaler (which only asks
 * it which machine hosts a node).
 */
import type { Resource } from "../../resources/kind.js";
import { imAuthorization } from "../../providers/im/auth.js";
import { ImProvider } from "../../providers/im/client.js";
import type { InfrastructureProvider } from "../../providers/provider.js";

/** The cloud or provider is missing or of a kind Krake cannot use: the reason says which. */
export class UnusableProvider extends Error {
  override name = "UnusableProvider";
}

/** Where clouds and providers are looked up (the controllers' informer caches). */
export interface ProviderCatalog {
  cloud(name: string, namespace: string): Resource | undefined;
  globalCloud(name: string): Resource | undefined;
  provider(name: string, namespace: string): Resource | undefined;
  globalProvider(name: string): Resource | undefined;
}

export interface ProviderOptions {
  /** Timeout of one provider call. */
  timeoutMs: number;
  /** Tests and the sandbox may swap the provider implementation. */
  providerFor?: (provider: Resource, cloud: Resource) => InfrastructureProvider;
}

/** The provider client for the cloud `cluster` is scheduled to. Throws {@link UnusableProvider}. */
export function providerOf(
  cluster: Resource,
  catalog: ProviderCatalog,
  options: ProviderOptions,
): InfrastructureProvider {
  const to = cluster.status.scheduled_to;
  const cloud =
    to?.kind === "GlobalCloud"
      ? catalog.globalCloud(to.name)
      : to?.kind === "Cloud"
        ? catalog.cloud(to.name, to.namespace)
        : undefined;
  if (!cloud)
    throw new UnusableProvider(
      `the cloud ${to?.kind ?? "?"} '${to?.name ?? "?"}' the cluster is scheduled to does not exist`,
    );
  if (cloud.spec.type !== "openstack")
    throw new UnusableProvider(`clouds of type '${cloud.spec.type}' are not supported`);
  const ref = cloud.spec.openstack.infrastructure_provider;
  // Krake looks up a namespaced provider first, then a global one, whatever the ref says (controllers.md §4.2).
  const provider =
    (cloud.metadata.namespace ? catalog.provider(ref.name, cloud.metadata.namespace) : undefined) ??
    catalog.globalProvider(ref.name);
  if (!provider)
    throw new UnusableProvider(
      `the infrastructure provider '${ref.name}' of cloud '${cloud.metadata.name}' does not exist`,
    );
  if (options.providerFor) return options.providerFor(provider, cloud);
  return imProviderFor(provider, cloud, options.timeoutMs);
}

/** The IM client for an IM provider and an OpenStack cloud (password auth). Throws {@link UnusableProvider}. */
export function imProviderFor(provider: Resource, cloud: Resource, timeoutMs: number): ImProvider {
  if (provider.spec.type !== "im")
    throw new UnusableProvider(`infrastructure providers of type '${provider.spec.type}' are not supported`);
  const auth = cloud.spec.openstack.auth;
  if (auth.type !== "password")
    throw new UnusableProvider(`OpenStack auth type '${auth.type}' is not supported`);
  const pw = auth.password;
  return new ImProvider({
    url: provider.spec.im.url,
    timeoutMs,
    authorization: imAuthorization(
      {
        id: provider.metadata.name,
        username: provider.spec.im.username,
        password: provider.spec.im.password,
        token: provider.spec.im.token,
      },
      {
        id: cloud.metadata.name,
        url: cloud.spec.openstack.url,
        version: pw.version,
        username: pw.user.username,
        password: pw.user.password,
        userDomainName: pw.user.domain_name,
        project: pw.project.name,
        projectDomainId: pw.project.domain_id,
      },
    ),
  });
}
