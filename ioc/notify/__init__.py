"""Notifications: the notifier worker, the channel clients and the local provider receivers."""
