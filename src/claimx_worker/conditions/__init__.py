"""Conditions: declarative tests over an event and its enriched rows, validated and compiled once.

- :mod:`~claimx_worker.conditions.fields`: the fields a test may name, each with its declared
  type (the type decides how a configured value is read: ``1234`` and ``"1234"`` are the same
  value for a string field and for an integer field alike).
- :mod:`~claimx_worker.conditions.config`: the ``conditions:`` configuration (``all:`` / ``any:``
  groups of ``{field, <operator>: value}`` tests), checked while it is structured.
- :mod:`~claimx_worker.conditions.compiled`: the compiled form: ``matches`` on the hot path,
  ``explain`` for ``simulate --explain``.
"""
