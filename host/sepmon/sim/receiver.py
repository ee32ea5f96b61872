"""Receiver model: turns one vehicle's true track into the lines its GPS would send.

Per epoch (``rate`` Hz, on the UTC grid) a burst of the sentences
``Params.sentences`` selects (RMC, VTG, GGA, GNS, GLL, GSA, ZDA, GSV), in the order
given. Talker GP, or GN for a multi-constellation receiver, which then also sends
one GSA per constellation (with its system ID) and GPGSV + GLGSV.

``Params.dialect``: ``2.3`` (mode letters), ``4.10``/``4.11`` (RMC and GNS end with
the navigational status ``V``, "not provided", as u-blox M8-F9 send it; GNS has one
mode letter per constellation, ``N`` where that one has no fix; GSA ends with the
system ID and GSV with the signal ID, 1 = GPS L1 C/A / GLONASS L1 OF).

Noise: per horizontal axis σ = 2.5 m × HDOP × ``noise_scale``, vertical 1.5×
that. Most of the variance (81 %) is a slowly wandering bias (first-order
Gauss-Markov, τ = 60 s: a random walk pulled back towards zero), the rest white,
which is how real receivers look: smooth tracks that drift. HDOP itself wobbles
by a few percent. Velocity (Doppler) noise is 0.05 m/s × HDOP per axis; a
vehicle standing still gets 0.1 m/s, so its SOG jitters by a few tenths of a
knot and its COG is random, as real receivers do.

Each line gets a receive time: fix time + ``latency_s`` + 0–20 ms jitter + the
time its bytes take on a ``baud`` UART; milliseconds, strictly increasing per
source.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from sepmon.core.checksum import frame_sentence
from sepmon.sim import _wgs84 as wgs
from sepmon.sim.params import FaultModel, Params
from sepmon.sim.scenarios import Truth

KNOTS_PER_MPS = 3600.0 / 1852.0
KMH_PER_MPS = 3.6
SIGMA_H_PER_HDOP = 2.5
VERTICAL_FACTOR = 1.5
BIAS_FRACTION = 0.9  # of σ; the white part makes up the rest of the variance
BIAS_TAU_S = 60.0
SIGMA_V_PER_HDOP = 0.05
SIGMA_V_STILL = 0.1
# Corrupted characters come from these, so a damaged line still looks like NMEA.
_FLIP_CHARS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-"


class Line(NamedTuple):
    """One line as the host would receive it.

    ``data`` is the raw bytes including CRLF; ``fix_t`` the UTC fix time of the
    epoch it belongs to (unix s); ``rx_t`` the receive time (unix s, whole
    milliseconds); ``fault`` is "" for a clean sentence, else one of
    "corrupt", "truncated", "garbage", "nofix" (valid sentence without a fix).
    """

    rx_t: float
    source: str
    data: bytes
    fix_t: float
    fault: str


class _Sat(NamedTuple):
    prn: int
    elev: int
    az: int
    snr: int


def _gauss_markov(rng: np.random.Generator, n: int, dt: float, tau: float) -> np.ndarray:
    """Unit-variance first-order Gauss-Markov sequence (stationary from the first sample)."""
    phi = math.exp(-dt / tau)
    q = math.sqrt(1.0 - phi * phi)
    w = rng.standard_normal(n)
    out = np.empty(n)
    x = float(w[0])
    out[0] = x
    for k in range(1, n):
        x = phi * x + q * float(w[k])
        out[k] = x
    return out


def _fmt_time(cs: int) -> str:
    sod = cs % 8_640_000
    ss = sod % 6000
    return f"{sod // 360_000:02d}{sod // 6000 % 60:02d}{ss // 100:02d}.{ss % 100:02d}"


def _fmt_date(cs: int) -> str:
    return datetime.fromtimestamp(cs // 100, UTC).strftime("%d%m%y")


def _fmt_angle(value: float, width: int, hemis: str) -> tuple[str, str]:
    hemi = hemis[0] if value >= 0 else hemis[1]
    a = abs(value)
    deg = int(a)
    minutes = round((a - deg) * 60.0, 5)
    if minutes >= 60.0:  # 59.999999' rounds up into the next degree
        deg, minutes = deg + 1, minutes - 60.0
    return f"{deg:0{width}d}{minutes:08.5f}", hemi


def _constellation(rng: np.random.Generator, first_prn: int, count: int, n_prn: int) -> list[_Sat]:
    prns = sorted(int(x) for x in rng.choice(np.arange(first_prn, first_prn + n_prn), count, replace=False))
    return [
        _Sat(prn, int(rng.integers(5, 86)), int(rng.integers(0, 360)), int(rng.integers(25, 49)))
        for prn in prns
    ]


def _gsv(talker: str, sats: list[_Sat], rng: np.random.Generator, signal: str = "") -> list[str]:
    groups = [sats[i : i + 4] for i in range(0, len(sats), 4)]
    out = []
    for i, group in enumerate(groups, 1):
        fields = [f"{talker}GSV", str(len(groups)), str(i), f"{len(sats):02d}"]
        for s in group:
            snr = max(0, min(99, s.snr + int(rng.integers(-1, 2))))
            fields += [f"{s.prn:02d}", f"{s.elev:02d}", f"{s.az:03d}", f"{snr:02d}"]
        if signal:
            fields.append(signal)  # NMEA 4.10 signal ID
        out.append(",".join(fields))
    return out


def _damage(sentence: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """A corrupt (one character changed) or truncated copy of ``$...*hh`` (without CRLF)."""
    star = sentence.rfind(b"*")
    if kind == "corrupt":
        pos = int(rng.integers(1, star))
        choices = [c for c in _FLIP_CHARS if c != sentence[pos]]
        return sentence[:pos] + bytes([choices[int(rng.integers(0, len(choices)))]]) + sentence[pos + 1 :]
    # Truncated: cut anywhere from just after the address field to before the last checksum digit.
    return sentence[: int(rng.integers(7, len(sentence)))]


def _garbage(rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        return b"\x00" * int(rng.integers(1, 33))
    # A UBX-looking frame (sync chars 0xB5 0x62); CR/LF kept out so it stays one line.
    body = bytes(b for b in rng.integers(0, 256, int(rng.integers(8, 48))).tolist() if b not in (10, 13))
    return b"\xb5\x62" + body


def receive(truth: Truth, source: str, index: int, p: Params, rate: float, talker: str) -> list[Line]:
    """All lines vehicle ``source`` (the ``index``-th) sends during the run, in time order."""
    st = truth.at_epochs(source)
    n = len(st.t)
    if n == 0:
        return []
    stationary = truth.track(source).stationary
    dt = 1.0 / rate
    noise_rng = np.random.default_rng([p.seed, 2, index])
    sky_rng = np.random.default_rng([p.seed, 3, index])
    fault_rng = np.random.default_rng([p.seed, 4, index])
    time_rng = np.random.default_rng([p.seed, 5, index])

    # Position and velocity errors: the streams are drawn whatever the faults, so
    # turning faults on changes which epochs are sent, never their noise.
    hdop = p.hdop * np.clip(1.0 + 0.05 * _gauss_markov(noise_rng, n, dt, 30.0), 0.8, 1.2)
    white = math.sqrt(1.0 - BIAS_FRACTION**2)
    unit = [
        BIAS_FRACTION * _gauss_markov(noise_rng, n, dt, BIAS_TAU_S) + white * noise_rng.standard_normal(n)
        for _ in range(3)
    ]
    sigma = SIGMA_H_PER_HDOP * hdop * p.noise_scale
    de, dn, du = unit[0] * sigma, unit[1] * sigma, unit[2] * sigma * VERTICAL_FACTOR
    m_rad, n_rad = wgs.radii(st.lat)
    lat = st.lat + np.degrees(dn / (m_rad + st.h))
    lon = st.lon + np.degrees(de / ((n_rad + st.h) * np.cos(np.radians(st.lat))))
    h = st.h + du
    sig_v = (SIGMA_V_STILL if stationary else SIGMA_V_PER_HDOP) * hdop * p.noise_scale
    ve = st.ve + sig_v * noise_rng.standard_normal(n)
    vn = st.vn + sig_v * noise_rng.standard_normal(n)
    sog = np.hypot(ve, vn)
    cog = np.degrees(np.arctan2(ve, vn)) % 360.0

    gps = _constellation(sky_rng, 1, 10, 32)
    glo = _constellation(sky_rng, 65, 7, 24) if talker == "GN" else []
    used_gps = [s.prn for s in gps if s.elev > 10][:12]
    used_glo = [s.prn for s in glo if s.elev > 10][:12]

    faults: FaultModel | None = p.faults
    gap_left = 0  # epochs still to go in the current dropout
    gap_nofix = False
    lines: list[Line] = []
    last_ms = -1
    for k in range(n):
        cs = round(float(st.t[k]) * 100.0)
        fix_t = cs / 100.0
        nofix = False
        garbage: bytes | None = None
        if faults is not None:
            if gap_left == 0 and fault_rng.random() < faults.dropouts_per_min / 60.0 * dt:
                gap_left = max(1, round(float(fault_rng.uniform(*faults.dropout_s)) * rate))
                gap_nofix = bool(fault_rng.random() < faults.nofix_fraction)
            if gap_left > 0:
                gap_left -= 1
                if not gap_nofix:
                    continue
                nofix = True
            if fault_rng.random() < faults.garbage:
                garbage = _garbage(fault_rng)

        bodies = _burst(p, talker, cs, nofix, k, lat, lon, h, hdop, sog, cog, used_gps, used_glo)
        if "GSV" in p.sentences:
            sig = "" if p.dialect == "2.3" else "1"
            gsv = _gsv("GP", gps, sky_rng, sig) + (_gsv("GL", glo, sky_rng, sig) if glo else [])
            # In its place in the receiver's order (last for u-blox, mid-burst for MTK).
            before = p.sentences[: p.sentences.index("GSV")]
            cut = sum(1 for b in bodies if b[2:5] in before)
            bodies[cut:cut] = gsv

        burst: list[tuple[bytes, str]] = []
        if garbage is not None:
            burst.append((garbage, "garbage"))
        for body in bodies:
            raw = frame_sentence(body).encode("ascii")
            kind = "nofix" if nofix else ""
            if faults is not None:
                u = fault_rng.random()
                if u < faults.corrupt:
                    raw, kind = _damage(raw, "corrupt", fault_rng), "corrupt"
                elif u < faults.corrupt + faults.truncate:
                    raw, kind = _damage(raw, "truncated", fault_rng), "truncated"
            burst.append((raw, kind))

        t_burst = fix_t + p.latency_s + float(time_rng.uniform(0.0, 0.02))
        sent = 0
        for raw, kind in burst:
            data = raw + b"\r\n"
            sent += len(data)
            ms = max(round((t_burst + sent * 10.0 / p.baud) * 1000.0), last_ms + 1)
            last_ms = ms
            lines.append(Line(ms / 1000.0, source, data, fix_t, kind))
    return lines


def _burst(
    p: Params,
    talker: str,
    cs: int,
    nofix: bool,
    k: int,
    lat: np.ndarray,
    lon: np.ndarray,
    h: np.ndarray,
    hdop: np.ndarray,
    sog: np.ndarray,
    cog: np.ndarray,
    used_gps: list[int],
    used_glo: list[int],
) -> list[str]:
    """Sentence bodies (no ``$``, no checksum) of one epoch but GSV, in ``p.sentences`` order."""
    tm, date = _fmt_time(cs), _fmt_date(cs)
    new = p.dialect != "2.3"
    nav = ",V" if new else ""  # NMEA 4.10 navigational status: not provided
    gn = talker == "GN"
    out: list[str] = []
    if "ZDA" in p.sentences:
        day = datetime.fromtimestamp(cs // 100, UTC).strftime("%d,%m,%Y")
    if nofix:
        for kind in p.sentences:
            if kind == "RMC":
                out.append(f"{talker}RMC,{tm},V,,,,,,,{date},,,N{nav}")
            elif kind == "VTG":
                out.append(f"{talker}VTG,,,,,,,,,N")
            elif kind == "GGA":
                out.append(f"{talker}GGA,{tm},,,,,0,00,99.99,,,,,,")
            elif kind == "GNS":
                out.append(f"{talker}GNS,{tm},,,,,{'NN' if gn else 'N'},00,99.99,,,,{nav}")
            elif kind == "GLL":
                out.append(f"{talker}GLL,,,,,{tm},V,N")
            elif kind == "GSA":
                out.append(f"{talker}GSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99" + (",1" if gn or new else ""))
            elif kind == "ZDA":
                out.append(f"{talker}ZDA,{tm},{day},00,00")
        return out
    la, ns = _fmt_angle(float(lat[k]), 2, "NS")
    lo, ew = _fmt_angle(float(lon[k]), 3, "EW")
    kn = float(sog[k]) * KNOTS_PER_MPS
    crs = float(cog[k])
    hd = float(hdop[k])
    msl = float(h[k]) - p.geoid_sep
    nsat = len(used_gps) + len(used_glo)
    for kind in p.sentences:
        if kind == "RMC":
            out.append(f"{talker}RMC,{tm},A,{la},{ns},{lo},{ew},{kn:.3f},{crs:.2f},{date},,,A{nav}")
        elif kind == "VTG":
            out.append(f"{talker}VTG,{crs:.2f},T,,M,{kn:.3f},N,{float(sog[k]) * KMH_PER_MPS:.3f},K,A")
        elif kind == "GGA":
            out.append(
                f"{talker}GGA,{tm},{la},{ns},{lo},{ew},1,{nsat:02d},{hd:.2f},{msl:.1f},M,{p.geoid_sep:.1f},M,,"
            )
        elif kind == "GNS":
            # One mode letter per constellation (GPS, GLONASS); GPS-only: "N" for GLONASS
            # in 4.10+, as u-blox and Septentrio send it.
            modes = "AA" if gn else ("AN" if new else "A")
            out.append(
                f"{talker}GNS,{tm},{la},{ns},{lo},{ew},{modes},{nsat:02d},{hd:.2f},{msl:.1f},"
                f"{p.geoid_sep:.1f},,{nav}"
            )
        elif kind == "GLL":
            out.append(f"{talker}GLL,{la},{ns},{lo},{ew},{tm},A,A")
        elif kind == "GSA":
            dops = f"{hd * 1.6:.2f},{hd:.2f},{hd * 1.3:.2f}"
            if gn:
                for sysid, used in ((1, used_gps), (2, used_glo)):
                    prns = ",".join([f"{x:02d}" for x in used] + [""] * (12 - len(used)))
                    out.append(f"GNGSA,A,3,{prns},{dops},{sysid}")
            else:
                prns = ",".join([f"{x:02d}" for x in used_gps] + [""] * (12 - len(used_gps)))
                out.append(f"{talker}GSA,A,3,{prns},{dops}" + (",1" if new else ""))
        elif kind == "ZDA":
            out.append(f"{talker}ZDA,{tm},{day},00,00")
    return out
