"""The application layer: what a person asks for, checked, and turned into work.

Both faces (``explorer.commands`` and ``explorer.gui``) call these use cases and neither
re-implements them: the input grammar (:mod:`~explorer.app.pictures`), opening any
network (:mod:`~explorer.app.networks`), load-and-trace (:mod:`~explorer.app.tracing`),
the boundary checks (:mod:`~explorer.app.checks`) and the window's loading policy
(:mod:`~explorer.app.policy`). No Qt, no argparse, no printing.
"""
