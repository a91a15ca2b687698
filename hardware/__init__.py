"""Field sensor protocols (Modbus RTU, SDI-12, NMEA 0183) and simulators that speak them.

This package imports nothing else of agrifleet's.
"""
