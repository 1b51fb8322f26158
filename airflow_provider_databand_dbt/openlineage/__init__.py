"""OpenLineage events for every tracked dbt Cloud run: a sink of the tracking service (extra ``[openlineage]``).

On whenever the ``openlineage-python`` client is installed and configured (``OPENLINEAGE_URL``,
``OPENLINEAGE_CONFIG`` / ``openlineage.yml``, or ``OPENLINEAGE__TRANSPORT__*``); ``OPENLINEAGE_DISABLED=true``
turns it off. Modules: ``config`` (when it is on), ``ids`` (deterministic run ids), ``datasets``
(namespaces and names), ``facets``, ``events`` (a report -> run events) and ``sink``.
Nothing here imports the client at import time: without the extra the factory returns None.
"""
