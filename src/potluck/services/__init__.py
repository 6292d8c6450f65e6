"""Services: what the API and the web pages share beyond the domain (outbound fetches, import)."""
