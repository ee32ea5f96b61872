"""I/O plumbing that links and outputs share (one MQTT broker session); imports only core."""
