"""The core: no I/O, imports nothing of sepmon outside core.

Shared types of every stage (:mod:`.model`), NMEA checksum/TAG blocks/framing/decoding,
epoch assembly and ingest (bytes → fixes), tracks, geometry and detection (geo, spatial,
separation), alerting, the monitor, the configuration model and the read-only picture.
"""
