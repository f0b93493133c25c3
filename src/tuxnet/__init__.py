"""tuxnet: the Linux kernel networking stack, rebuilt in Python as a user-space stack."""

__version__ = "0.1.0"
