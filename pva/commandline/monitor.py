"""caproto.pva.commandline.monitor: the ``pvmonitor`` tool (:mod:`pva.cli.pvmonitor`)."""
from ..cli.pvmonitor import main

__all__ = ["main"]
