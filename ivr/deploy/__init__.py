"""Production deployment: systemd units and their environment file, rendered from the settings."""
