"""One module per group of routes. Every router except ``public`` requires a session (see api.app)."""
