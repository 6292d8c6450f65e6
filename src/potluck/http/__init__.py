"""HTTP plumbing shared by the API and the site: errors, headers, conditional requests,
caches, limits, hot reads, proxies and authentication."""
