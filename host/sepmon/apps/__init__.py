"""Applications: daemon, analyze, record, replay, demo, virtual boards, flashing, and their file helpers."""
