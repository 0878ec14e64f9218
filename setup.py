"""Builds the optional C kernel of the EDF/BDF reader; everything else is configured in pyproject.toml.

The kernel is optional: if it cannot be compiled (no C compiler or Python headers), the install goes on
and the reader uses its numpy path, which gives the same arrays, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "firmware_bridge.formats._edfkernel",
            ["firmware_bridge/formats/_edfkernel.c"],
            optional=True,
            extra_compile_args=["-O3", "-ffp-contract=off"],  # vectorised; no fused multiply-add (the numpy floats)
        )
    ]
)
