"""The one place that imports the compiled extension ``caffi._ca``.

epicscorelibs ships ``libca``/``libCom`` inside its Python package.  Loading
them here by absolute path before the extension means the dynamic linker
resolves the extension's ``DT_NEEDED`` entries by soname from the
already-loaded copies, so no ``LD_LIBRARY_PATH`` is needed wherever pip put
the two packages.

They are loaded RTLD_LOCAL: their symbols stay out of the process's global
scope.  Another extension that carries its own copy of libca and libCom
(CaChannel's statically linked ``_ca``) would otherwise have its calls bound
half to its copy, half to these (a crash in libca's threads).
"""
import ctypes
import importlib
import os

__all__ = ["ffi", "lib"]


def _library_path(name):
    # The dsoinfo modules that setuptools_dso generates name the files; they
    # import nothing, where epicscorelibs.path pulls in all of setuptools.
    try:
        info = importlib.import_module("epicscorelibs.lib.%s_dsoinfo" % name)
        return info.sofilename
    except (ImportError, AttributeError):  # pragma: no cover - other layouts
        from epicscorelibs.path import get_lib
        return get_lib(name)


_mode = getattr(ctypes, "RTLD_LOCAL", 0)
_loaded = []
for _name in ("Com", "ca"):
    _path = _library_path(_name)
    if os.name == "nt":  # pragma: no cover - Windows
        _loaded.append(ctypes.WinDLL(_path, mode=_mode))
    else:
        _loaded.append(ctypes.CDLL(_path, mode=_mode))

from ._ca import ffi, lib  # noqa: E402
