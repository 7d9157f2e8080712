"""See the modules; nothing is loaded at import."""
