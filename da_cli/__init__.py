"""`da`: a command-line data analyst that runs a small local language model, offline."""

__version__ = "0.1.0"
