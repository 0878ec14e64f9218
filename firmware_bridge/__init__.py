"""NightCramp's imperative shell towards sensor bands and files.

Device profiles (data plus a pure decoder), the ``Source`` protocol shared by BLE, replay and synthetic
sources, and the append-only recording journal.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
