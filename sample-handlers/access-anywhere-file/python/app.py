"""The Access Anywhere ``SampleFileAuditEventHandler``, in Python.

The same handler as the Rust original in ``../src/lib.rs`` (its doc comment
describes the mapping): for every event, one JSON line with ``actor``,
``eventType``, ``ip``, ``date`` (RFC 822, UTC), ``log_str``, ``name``,
``objid`` and ``params`` to the ``audit.log`` output. The three builds
(Rust, Python, JavaScript) write the same bytes for the same events; the
test ``tests/all/languages.rs`` compares them.
"""

import json

from wasp_guest import Event, WitWorld, emit, handler  # noqa: F401 (WitWorld is the export)

FIELDS = [
    ("actor", ["/userId", "/principal/0", "/actor"]),
    ("eventType", ["/eventName", "/eventType"]),
    ("ip", ["/client/ip", "/ip"]),
    ("date", ["/timestamp"]),
    ("log_str", ["/log", "/operation", "/request/operation", "/result"]),
    ("name", ["/name", "/component"]),
    ("objid", ["/objectId", "/objid"]),
    ("params", ["/params", "/request/detail", "/changedFields"]),
]

DAYS = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def to_json(value) -> str:
    """JSON text as the Rust build writes it (serde_json: keys sorted,
    no spaces, UTF-8 kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def days_from_civil(y: int, m: int, d: int) -> int:
    y = y - 1 if m <= 2 else y
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def rfc822(ts: str):
    """``2026-11-22T04:44:00.123Z`` → ``Sun, 22 Nov 26 04:44:00 +0000``;
    ``None`` when ``ts`` is not an ISO-8601 date-time."""

    def num(a: int, b: int):
        s = ts[a:b]
        return int(s) if len(s) == b - a and s.isascii() and s.isdigit() else None

    if len(ts) < 19 or ts[4] != "-" or ts[7] != "-" or ts[10] not in "Tt " or ts[13] != ":" or ts[16] != ":":
        return None
    parts = [num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)]
    if None in parts:
        return None
    year, month, day, hour, minute, second = parts
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= month <= 12 or day < 1 or day > month_days[month - 1] or hour > 23 or minute > 59 or second > 60:
        return None
    i = 19
    if i < len(ts) and ts[i] == ".":
        i += 1
        while i < len(ts) and ts[i].isascii() and ts[i].isdigit():
            i += 1
    if i < len(ts) and ts[i] in "Zz" and i + 1 == len(ts):
        offset = 0
    elif i < len(ts) and ts[i] in "+-" and len(ts) == i + 6 and ts[i + 3] == ":":
        h, mm = num(i + 1, i + 3), num(i + 4, i + 6)
        if h is None or mm is None:
            return None
        offset = (h * 60 + mm) * (1 if ts[i] == "+" else -1)
    else:
        return None
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60
    days, secs = seconds // 86400, seconds % 86400
    y, m, d = civil_from_days(days)
    return f"{DAYS[days % 7]}, {d:02} {MONTHS[m - 1]} {y % 100:02} {secs // 3600:02}:{secs % 3600 // 60:02}:{secs % 60:02} +0000"


_ABSENT = object()


@handler
class AccessAnywhereFile:
    def __init__(self, config: dict):
        unknown = set(config) - {"mapping", "output"}
        if unknown:
            raise ValueError(f"config.{sorted(unknown)[0]}: unknown setting (settings: mapping, output)")
        mapping = dict(config.get("mapping") or {})
        self.fields = [(name, mapping.pop(name, defaults)) for name, defaults in FIELDS]
        if mapping:
            names = ", ".join(name for name, _ in FIELDS)
            raise ValueError(f"config.mapping.{sorted(mapping)[0]}: not a field of the output line (fields: {names})")
        self.output = config.get("output") or "audit.log"

    def handle(self, event: Event) -> None:
        parts = []
        for name, pointers in self.fields:
            value = None
            for pointer in pointers:
                found = event.get(pointer, _ABSENT)
                if found is not _ABSENT:
                    value = found
                    break
            if name == "date" and isinstance(value, str):
                value = rfc822(value) or value
            parts.append(f"{to_json(name)}:{to_json(value)}")
        emit(self.output, "{" + ",".join(parts) + "}")
