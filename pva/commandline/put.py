"""caproto.pva.commandline.put: the ``pvput`` tool (:mod:`pva.cli.pvput`)."""
from ..cli.pvput import main

__all__ = ["main"]
