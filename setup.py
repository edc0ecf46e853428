"""Build and install caffi (cffi binding of libca) and pva (pure-Python pvAccess)."""
from setuptools import find_packages, setup

from epicscorelibs.version import abi_requires

setup(
    name="caffi",
    version="2.0.0",
    description="EPICS Channel Access through libca (cffi, API mode) and pure-Python pvAccess",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["caffi", "caffi.*", "pva", "pva.*"]),
    package_data={"caffi": ["py.typed"], "pva": ["py.typed"]},
    setup_requires=["cffi>=1.15"],
    cffi_modules=["build_ffi.py:ffibuilder"],
    install_requires=[
        "cffi>=1.15",
        "numpy>=1.20",
        # The extension links against this epicscorelibs build: same ABI only.
        abi_requires(),
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout", "hypothesis>=6", "p4p>=4.1", "sphinx>=5",
                 # aioca's suite run against caffi.aio; IPython's top-level await
                 "pytest-asyncio>=0.23", "ipython",
                 # caproto.pva's pvRequest tests (run against pva) are xfail
                 # without it, whatever the outcome
                 "parsimonious",
                 # real CA clients of caffi.server
                 "pyepics>=3.5", "caproto>=1.1", "CaChannel>=3.1"],
        "docs": ["sphinx>=5"],
    },
    entry_points={
        "console_scripts": [
            "caRepeater = caffi._repeater:main",
            "caget = caffi.cli.caget:main",
            "caput = caffi.cli.caput:main",
            "camonitor = caffi.cli.camonitor:main",
            "cainfo = caffi.cli.cainfo:main",
            "pvget = pva.cli.pvget:main",
            "pvput = pva.cli.pvput:main",
            "pvmonitor = pva.cli.pvmonitor:main",
            "pvinfo = pva.cli.pvinfo:main",
            "pvcall = pva.cli.pvcall:main",
            "pvlist = pva.cli.pvlist:main",
        ],
    },
    zip_safe=False,
)
