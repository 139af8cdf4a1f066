"""Notifications that reach people: channel clients, local provider receivers, routing and the notifier worker."""
