"""NightCramp's pure signal core: numpy/scipy functions on arrays, no I/O.

Time is the last axis, sampling rates are keyword-only ``fs`` in Hz, and public parameters carry their
physical unit in their name (``_s``, ``_hz``, ``_uv``, ``_g``).
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
