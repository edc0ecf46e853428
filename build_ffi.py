"""cffi builder for ``caffi._ca``: API mode, out of line, over epicscorelibs.

The C declarations live in ``caffi/_cdef/*.h`` and are read in name order;
the ``extern "Python"`` trampolines sort last.  Run directly to build in place
(``python build_ffi.py``); ``setup.py`` uses ``ffibuilder`` via
``cffi_modules``.
"""
import os
import sys

from cffi import FFI

import epicscorelibs.path
from epicscorelibs.config import get_config_var

HERE = os.path.dirname(os.path.abspath(__file__))
CDEF_DIR = os.path.join(HERE, "caffi", "_cdef")


def _include_dirs():
    base = epicscorelibs.path.include_path
    dirs = [base]
    # Older epicscorelibs releases keep OS and compiler specific headers in
    # sub-directories; newer ones flatten them into the base directory.
    for sub in (
        os.path.join("os", get_config_var("OS_CLASS")),
        os.path.join("compiler", get_config_var("CMPLR_CLASS")),
    ):
        path = os.path.join(base, sub)
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def _cdef_text():
    names = sorted(n for n in os.listdir(CDEF_DIR) if n.endswith(".h"))
    parts = []
    for name in names:
        with open(os.path.join(CDEF_DIR, name)) as f:
            parts.append(f.read())
    return "\n".join(parts)


SOURCE = r"""
#include <cadef.h>
#include <db_access.h>
#include <caerr.h>
#include <alarm.h>
#include <epicsTime.h>

/* Exported by libca with C linkage (repeater.cpp) but not in its headers. */
#ifdef __cplusplus
extern "C"
#endif
void caRepeaterThread(void *pDummy);

/* caffi/_cdef/helpers.h */
union caffi_plain {
    dbr_string_t s;
    dbr_short_t h;
    dbr_float_t f;
    dbr_enum_t e;
    dbr_char_t c;
    dbr_long_t l;
    dbr_double_t d;
};

static int caffi_get_plain(chid ch, union caffi_plain *buf)
{
    short type = ca_field_type(ch);
    int status;
    if (type < 0 || type > LAST_TYPE || ca_element_count(ch) != 1)
        return -1;
    status = ca_array_get(type, 1, ch, buf);
    return status * 16 + type;
}

static int caffi_put_double(chid ch, double value, caEventCallBackFunc *cb, void *usr)
{
    if (ca_state(ch) != cs_conn || ca_field_type(ch) != DBR_DOUBLE)
        return -1;
    if (cb == NULL)
        return ca_array_put(DBR_DOUBLE, 1, ch, &value);
    return ca_array_put_callback(DBR_DOUBLE, 1, ch, &value, cb, usr);
}
"""

ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())

_extra_link_args = []
if sys.platform.startswith("linux"):
    # Where pip puts both packages side by side; caffi/__init__.py also
    # preloads the libraries by soname, which covers every other layout.
    _extra_link_args.append("-Wl,-rpath,$ORIGIN/../epicscorelibs/lib")
elif sys.platform == "darwin":
    _extra_link_args.append("-Wl,-rpath,@loader_path/../epicscorelibs/lib")

ffibuilder.set_source(
    "caffi._ca",
    SOURCE,
    include_dirs=_include_dirs(),
    library_dirs=[epicscorelibs.path.lib_path],
    libraries=["ca", "Com"],
    define_macros=[(k, v) for k, v in get_config_var("CPPFLAGS")],
    extra_link_args=_extra_link_args,
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=HERE, verbose=True)
