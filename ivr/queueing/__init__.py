"""Queues and agents: the model loaded from ivr/flows/queues.yaml, the Asterisk config rendered
from it, and the pure logic the engine and the AMI listener drive (wait estimate, announcements,
overflow, VIP priority, missed-call auto-pause, callbacks). See docs/queues.md."""
