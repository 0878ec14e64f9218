"""What a person touches: the ``cramp`` command line, sessions, reports."""

__version__ = "0.1.0"
