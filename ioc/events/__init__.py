"""Linked events (大联动): the service every entry uses, and the MQTT edge of event tasks."""
