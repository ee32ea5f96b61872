"""Outputs of the live daemon besides the boards, one module each: ``flarm``, ``mqtt``.

Every output implements :class:`sepmon.outputs.base.Output`: it is handed fixes,
events and the read-only picture, and never touches the daemon's internals.
``flarmcodec`` is the FLARM sentence encoder the feed uses. The daemon builds
them from ``[outputs.<name>]`` tables with :func:`sepmon.apps.extensions.build_extensions`.
"""
