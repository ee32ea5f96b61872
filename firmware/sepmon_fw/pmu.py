"""Power for the T-Beam's GPS: find the power chip on I2C and switch the GPS rail on.

The LilyGO T-Beam powers its GPS from a rail of its power-management chip, I2C
address 0x34 (SDA GPIO21, SCL GPIO22): LDO3 of the AXP192 on v1.0/v1.1, ALDO3 of
the AXP2101 on v1.2. LilyGO's own firmware, Meshtastic and SoftRF set that rail to
3.3 V and enable it at boot; a board whose chip comes up with it off has a dark GPS.
Register numbers (X-Powers AXP192 and AXP2101 datasheets, as used by LilyGO's
XPowersLib):

=========  ==========================  =================================================
chip       chip ID (register 0x03)     GPS rail
=========  ==========================  =================================================
AXP192     0x03                        LDO3: voltage 0x28 bits 3:0, (mV - 1800) / 100;
                                       enable 0x12 bit 3
AXP2101    0x4A                        ALDO3: voltage 0x94 bits 4:0, (mV - 500) / 100;
                                       enable 0x90 bit 2
=========  ==========================  =================================================

Every write is read-modify-write: the same registers hold the ESP32's own supply
(AXP192 0x12 bit 1 = DCDC3, the 3.3 V of the ESP32 on the T-Beam) and the LoRa
radio's rail, which must stay as they are. Runs once at boot (allocation is fine).
``bus`` is a ``machine.I2C`` (or anything with ``readfrom_mem(addr, reg, n)`` and
``writeto_mem(addr, reg, buf)``).
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

ADDR = const(0x34)
REG_CHIP_ID = const(0x03)
AXP192_ID = const(0x03)
AXP2101_ID = const(0x4A)

AXP192_LDO23_VOLT = const(0x28)
AXP192_POWER_CTL = const(0x12)
AXP192_LDO3_EN = const(0x08)

AXP2101_ALDO3_VOLT = const(0x94)
AXP2101_LDO_ONOFF0 = const(0x90)
AXP2101_ALDO3_EN = const(0x04)

GPS_MV = const(3300)


def _read(bus, addr, reg):
    return bus.readfrom_mem(addr, reg, 1)[0]


def _write(bus, addr, reg, v):
    bus.writeto_mem(addr, reg, bytes((v,)))


def power_gps(bus, addr=ADDR, mv=GPS_MV):
    """Switch the GPS rail on at ``mv``. Returns ``(chip, on)``: chip "axp192", "axp2101" or
    "unknown 0x??" (then nothing is written), ``on`` whether the enable bit reads back set.
    Raises OSError when nothing answers at ``addr`` (no power chip: not a T-Beam v1.x)."""
    chip = _read(bus, addr, REG_CHIP_ID)
    if chip == AXP192_ID:
        v = _read(bus, addr, AXP192_LDO23_VOLT)
        _write(bus, addr, AXP192_LDO23_VOLT, (v & 0xF0) | ((mv - 1800) // 100))
        v = _read(bus, addr, AXP192_POWER_CTL)
        _write(bus, addr, AXP192_POWER_CTL, v | AXP192_LDO3_EN)
        return ("axp192", bool(_read(bus, addr, AXP192_POWER_CTL) & AXP192_LDO3_EN))
    if chip == AXP2101_ID:
        v = _read(bus, addr, AXP2101_ALDO3_VOLT)
        _write(bus, addr, AXP2101_ALDO3_VOLT, (v & 0xE0) | ((mv - 500) // 100))
        v = _read(bus, addr, AXP2101_LDO_ONOFF0)
        _write(bus, addr, AXP2101_LDO_ONOFF0, v | AXP2101_ALDO3_EN)
        return ("axp2101", bool(_read(bus, addr, AXP2101_LDO_ONOFF0) & AXP2101_ALDO3_EN))
    return (f"unknown 0x{chip:02x}", False)
