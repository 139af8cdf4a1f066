"""Simulators that feed the demo city (Zhangjiagang 张家港) over MQTT: `python -m simulators`."""
