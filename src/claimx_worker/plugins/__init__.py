"""The plugin host: discovery, instances from ``plugins/config/``, pluggy, the stage runner.

Import from the module that defines a name (:mod:`~claimx_worker.plugins.host` for
``PluginHost``, :mod:`~claimx_worker.plugins.loading` for ``load_plugins``, ...): this package
imports nothing, so that ``claimx_worker.plugins.base`` (the public ``Plugin``) stays cheap.
"""
