"""Generic YAML configuration loading: line numbers, ``${VAR}`` expansion, structuring, problems.

One job: turn a YAML file (or an already-loaded ruamel node) into an attrs instance, or fail with
*every* problem at once, each as ``file:line: key.path: message``. One module per step:

- :mod:`~claimx_worker.config.yaml_files`: files are read with ruamel.yaml round-trip loading,
  which keeps line numbers; invalid YAML is a problem at the line of the parse error.
- :mod:`~claimx_worker.config.variables`: ``${VAR}`` and ``${VAR:-default}`` are expanded in every
  string value (not in keys) before structuring, and secret values are collected for the log
  redactor.
- :mod:`~claimx_worker.config.converter`: the strict cattrs converter that structures the values
  into the target attrs class.
- :mod:`~claimx_worker.config.structuring`: :func:`~claimx_worker.config.structuring.structure_node`
  and :func:`~claimx_worker.config.structuring.load_config_file` run the steps and map every
  error back to its file, line and key path.
- :mod:`~claimx_worker.config.problems`: the problem and error types
  (:class:`~claimx_worker.config.problems.ConfigError`, ``ConfigProblem``, ``ConfigValueError``).

Callers import from those modules; this package imports nothing, so that ``ConfigValueError``
(public, re-exported by :mod:`claimx_worker`) costs no YAML or cattrs import.
"""
