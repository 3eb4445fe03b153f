"""Ridelines: every GPS track a cyclist ever rode, on one private vector map.

The domain package. It never imports boto3 directly: AWS lives behind the ports in
:mod:`ridelines.ports`, implemented by :mod:`ridelines.adapters.aws` (Lambda) and
:mod:`ridelines.adapters.local` (command line), so one pipeline runs everywhere.
"""

__version__ = "0.1.0"
