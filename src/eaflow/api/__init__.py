"""The HTTP API (API.md): one router per resource, auth, problem+json errors."""
