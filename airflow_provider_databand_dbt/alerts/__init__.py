"""Alerts: rules evaluated when a run is stored, incidents kept in the store, notifications sent to channels."""
