"""Alerts: rules evaluated when a run is stored, incidents kept in the store, notifications sent to channels.

Delivery half: ``config`` (+ ``config_channels``, ``secrets``) reads the alerts file and environment;
``outbox.enqueue`` queues notifications in the rules' transaction; ``delivery`` claims, sends and retries
them (``delivery_sink`` right after a short-lived tracker stored a run, ``monitor/alert_delivery.py`` every
interval); ``channels`` renders and sends Slack, Teams, webhook and e-mail messages.
"""
