"""The Access Anywhere ``SampleFileAuditEventHandler`` as a WASP handler, in
Python. Same behaviour and the same output bytes as the Rust version
(``../src/lib.rs``): one JSON line per event with ``actor``, ``eventType``,
``ip``, ``date`` (RFC 822, UTC), ``log_str``, ``name``, ``objid``, ``params``,
each the value at the first JSON pointer of its list that is present in the
event (``null`` when none is). ``config.mapping`` replaces a field's list;
``config.output`` names the output (default ``audit.log``)."""

import wasp_guest
from wasp_guest import MISSING, emit, pointer, to_json

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


class AccessAnywhereFile(wasp_guest.Handler):
    def __init__(self, config):
        if not isinstance(config, dict):
            raise ValueError("handler config: expected an object")
        for key in config:
            if key not in ("mapping", "output"):
                raise ValueError(f"handler config: unknown field `{key}`, expected `mapping` or `output`")
        mapping = dict(config.get("mapping") or {})
        self.fields = [(name, mapping.pop(name, defaults)) for name, defaults in FIELDS]
        if mapping:
            unknown = sorted(mapping)[0]
            names = ", ".join(name for name, _ in FIELDS)
            raise ValueError(f"config.mapping.{unknown}: not a field of the output line (fields: {names})")
        for name, pointers in self.fields:
            if not isinstance(pointers, list) or not all(isinstance(p, str) for p in pointers):
                raise ValueError(f"handler config: mapping.{name} must be a list of JSON pointers")
        output = config.get("output")
        self.output = "audit.log" if output is None else output

    def handle(self, event):
        document = event.json
        parts = []
        for name, pointers in self.fields:
            value = None
            for p in pointers:
                found = pointer(document, p, MISSING)
                if found is not MISSING:
                    value = found
                    break
            if name == "date" and isinstance(value, str):
                value = rfc822(value) or value
            parts.append(to_json(name) + ":" + to_json(value))
        emit(self.output, "{" + ",".join(parts) + "}")


def rfc822(ts):
    """``2026-11-22T04:44:00.123Z`` → ``Sun, 22 Nov 26 04:44:00 +0000``;
    ``None`` when the text is not an ISO-8601 date-time (byte for byte the
    Rust version's rules)."""
    b = ts.encode("utf-8")

    def num(start, end):
        s = b[start:end]
        return int(s) if len(s) == end - start and s.isdigit() else None

    if len(b) < 19 or b[4:5] != b"-" or b[7:8] != b"-" or b[10:11] not in (b"T", b"t", b" ") or b[13:14] != b":" or b[16:17] != b":":
        return None
    year, month, day = num(0, 4), num(5, 7), num(8, 10)
    hour, minute, second = num(11, 13), num(14, 16), num(17, 19)
    if None in (year, month, day, hour, minute, second):
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= month <= 12 or day < 1 or day > month_days[month - 1] or hour > 23 or minute > 59 or second > 60:
        return None
    i = 19
    if b[i:i + 1] == b".":
        i += 1
        while b[i:i + 1].isdigit():
            i += 1
    c = b[i:i + 1]
    if c in (b"Z", b"z") and i + 1 == len(b):
        offset = 0
    elif c in (b"+", b"-") and len(b) == i + 6 and b[i + 3:i + 4] == b":":
        hh, mm = num(i + 1, i + 3), num(i + 4, i + 6)
        if hh is None or mm is None:
            return None
        offset = hh * 60 + mm if c == b"+" else -(hh * 60 + mm)
    else:
        return None
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60
    days, secs = divmod(seconds, 86400)
    y, m, d = civil_from_days(days)
    return f"{DAYS[days % 7]}, {d:02} {MONTHS[m - 1]} {y % 100:02} {secs // 3600:02}:{secs % 3600 // 60:02}:{secs % 60:02} +0000"


def days_from_civil(y, m, d):
    """Days since 1970-01-01 (H. Hinnant's algorithm)."""
    y = y - 1 if m <= 2 else y
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


WitWorld = wasp_guest.export(AccessAnywhereFile)
