"""Live state in Redis: a connection that survives outages, call records, the incident statement."""
