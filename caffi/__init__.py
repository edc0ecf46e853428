"""caffi: EPICS Channel Access through libca, with caffi 1.0's API.

>>> from caffi import ca
>>> ca.version()
'4.13'
"""
from . import ca, compat, constants, dbr, macros  # noqa: F401 (re-exported)
from .constants import CA_OP, ECA, AlarmCondition, AlarmSeverity
from .dbr import DBF, DBR
from .pv import PV
from .simple import CAError, caget, caget_many, cainfo, camonitor, caput, caput_many

__version__ = "2.0.0"
version_info = (2, 0, 0)

# ``from caffi import *`` binds the submodules as caffi 1.0.4's did.
__all__ = ["ca", "compat", "constants", "dbr", "macros",
           "DBF", "DBR", "ECA", "CA_OP", "AlarmCondition", "AlarmSeverity",
           "caget", "caget_many", "caput", "caput_many", "camonitor", "cainfo", "CAError",
           "PV", "__version__", "version_info"]
