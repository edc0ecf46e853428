"""caproto.pva's command line entry points, under caproto.pva's module names.

``pva.commandline.get.main`` is ``pva.cli.pvget.main`` (and ``put`` /
``monitor`` likewise): code that calls caproto.pva's tools from Python runs
unchanged.  The tools themselves, their flags and output, are pvxs's (see
:mod:`pva.cli`).
"""
from . import get, monitor, put

__all__ = ["get", "put", "monitor"]
