"""Links: where positions come from (serial, network, file, gpsd, MQTT in).

They import core (and the shared transport), never outputs, boardlink or the apps.
"""
