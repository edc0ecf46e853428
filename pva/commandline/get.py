"""caproto.pva.commandline.get: the ``pvget`` tool (:mod:`pva.cli.pvget`)."""
from ..cli.pvget import main

__all__ = ["main"]
