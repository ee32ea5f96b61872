"""The host side of the boards: the wire protocol (``$PSEP...``) and the per-board link state.

Named ``boardlink`` (not ``boards``) so that "boards" means one thing: the firmware's
board profiles in ``firmware/boards/``.
"""
