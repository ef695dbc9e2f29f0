/**
 * Host-form routing (architecture.md §4), one function for every role that serves apps (`picloud up`, the manager,
 * `picloud orchestrator`): a request to `<label>.<domain>` is rewritten to the path form `/apps/<label>/...` whatever
 * its path, so an app's host never serves another app (`shortener.<domain>/apps/other/` is the shortener's own path
 * `/apps/other/`, not the app `other`). Requests to any other host keep their URL.
 */

/** `/apps/<label>/...` for a host-form request, else the URL unchanged. */
export function rewriteHostUrl(host: string | undefined, url: string, domain: string): string {
  if (!host) return url;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain}`;
  if (!name.endsWith(suffix)) return url;
  const label = name.slice(0, -suffix.length);
  if (!label || label.includes('.')) return url;
  return `/apps/${label}${url.startsWith('/') ? url : `/${url}`}`;
}
