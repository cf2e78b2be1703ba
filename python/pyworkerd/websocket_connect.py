"""WebSockets the host opens for an isolate (placeholder)."""
