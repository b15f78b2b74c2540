"""Write WASP audit handlers in Python (built with componentize-py 0.25.1).

A handler is a class with ``handle(self, event)`` (and optionally
``__init__(self, config)``); one line at the end of ``app.py`` exports it as
the ``wasp:handler/handler@0.1.0`` world::

    import wasp_guest
    from wasp_guest import Event, emit, log, state

    class WhoDidWhat(wasp_guest.Handler):
        def __init__(self, config):
            self.prefix = config.get("prefix", "")

        def handle(self, event: Event):
            emit("audit.log", wasp_guest.to_json(
                {"line": f"{self.prefix}{event.userId or 'anonymous'} did {event.eventName}"}))

    WitWorld = wasp_guest.export(WhoDidWhat)

Build: ``componentize-py -d <repo>/wit -w handler componentize app -p . -p
<repo>/guest-sdk-py -o app.wasm``.

An exception raised by ``handle`` becomes ``err(message)`` for that event (its
emitted records are discarded, the event is dead-lettered with the message);
an exception raised by ``__init__`` becomes ``init``'s ``err`` (the handler is
disabled with the message). Nothing the handler raises ever traps the
instance. ``to_json`` writes JSON exactly as the Rust SDK's ``serde_json``
does (compact, keys sorted), so that handlers in both languages can produce
the same bytes.
"""

import json as _json
import json.encoder as _json_encoder

from componentize_py_types import Err, Ok
from wit_world.imports import logging as _logging
from wit_world.imports import output as _output
from wit_world.imports import state as _state
from wit_world.imports.types import Level as _Level

__all__ = [
    "Event", "Handler", "WaspError", "MISSING", "emit", "export", "log", "state", "to_json", "pointer",
]

#: Returned by ``Event.get(path, MISSING)`` when nothing is at the path (a
#: present ``null`` is ``None``).
MISSING = object()

# The sequence of the event being handled, for ``emit``.
_current = None


class WaspError(Exception):
    """A host call refused what the handler asked (e.g. ``emit`` to an
    output the configuration does not declare). Uncaught, it becomes the
    event's ``err`` like any other exception."""


class Event:
    """One audit event.

    The common fields cost nothing (the host lifts them out): ``_id`` (also
    ``id``), ``topic``, ``sequence``, ``timestamp``, ``eventName``,
    ``transactionId``, ``userId`` (``None`` when absent). ``json`` parses the
    whole document once, on first use; ``trackingIds`` and ``get`` read it.
    """

    __slots__ = ("_raw", "_doc")

    def __init__(self, raw):
        self._raw = raw
        self._doc = MISSING

    @property
    def _id(self):
        """The event's ``_id``."""
        return self._raw.id

    id = _id

    @property
    def topic(self):
        """The topic the event was published to."""
        return self._raw.topic

    @property
    def sequence(self):
        """The journal sequence number (strictly increasing)."""
        return self._raw.sequence

    @property
    def timestamp(self):
        """The event's ``timestamp`` (ISO-8601 UTC)."""
        return self._raw.timestamp

    @property
    def eventName(self):
        """The event's ``eventName``, or ``None``."""
        return self._raw.event_name

    @property
    def transactionId(self):
        """The event's ``transactionId``, or ``None``."""
        return self._raw.transaction_id

    @property
    def userId(self):
        """The event's ``userId``, or ``None``."""
        return self._raw.user_id

    event_name = eventName
    transaction_id = transactionId
    user_id = userId

    @property
    def trackingIds(self):
        """The event's ``trackingIds`` list (``[]`` when absent)."""
        ids = self.json.get("trackingIds")
        return ids if isinstance(ids, list) else []

    tracking_ids = trackingIds

    @property
    def raw_json(self):
        """The whole event document as JSON text."""
        return self._raw.json

    @property
    def json(self):
        """The whole event document (a ``dict``), parsed once on first use."""
        if self._doc is MISSING:
            self._doc = _json.loads(self._raw.json)
        return self._doc

    def get(self, path, default=None):
        """The value at ``path``: a JSON pointer (``/client/ip``,
        ``/trackingIds/0``) or a dotted path (``client.ip``,
        ``trackingIds.0``); ``default`` when nothing is there."""
        if path.startswith("/") or path == "":
            return pointer(self.json, path, default)
        return pointer(self.json, "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path.split(".")), default)

    def __repr__(self):
        return f"Event(_id={self._id!r}, topic={self.topic!r}, sequence={self.sequence})"


def pointer(document, path, default=None):
    """The value at a JSON pointer (RFC 6901, as ``serde_json`` resolves it:
    array indexes without leading zeros or ``+``), else ``default``."""
    tokens = _pointer_tokens.get(path)
    if tokens is None:
        if path == "":
            return document
        if not path.startswith("/"):
            return default
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/"))
        if len(_pointer_tokens) < 1024:  # a handler's pointers, parsed once
            _pointer_tokens[path] = tokens
    target = document
    for token in tokens:
        if isinstance(target, dict):
            if token not in target:
                return default
            target = target[token]
        elif isinstance(target, list):
            if not token.isdigit() or not token.isascii() or (token.startswith("0") and len(token) != 1):
                return default
            index = int(token)
            if index >= len(target):
                return default
            target = target[index]
        else:
            return default
    return target


_pointer_tokens = {}


def emit(output, data):
    """Stages ``data`` (``bytes`` or ``str``) as one record for the output
    named ``output``, on behalf of the event being handled. It is written
    only if ``handle`` returns normally. Raises ``WaspError`` when the host
    refuses it (undeclared output, a newline in a line-oriented record, or a
    call outside ``handle``)."""
    if _current is None:
        raise WaspError(f"emit to `{output}` outside of `handle`: records belong to an event")
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        _output.emit(_current, output, bytes(data))
    except Err as e:
        raise WaspError(e.value) from None


class _Log:
    """Writes to the host log (within the handler's log budget):
    ``log.info("…")``, ``log.warn("…")``, … or ``log("…", "debug")``."""

    def __call__(self, message, level="info"):
        _logging.log(_Level[level.upper()], str(message))

    def trace(self, message):
        _logging.log(_Level.TRACE, str(message))

    def debug(self, message):
        _logging.log(_Level.DEBUG, str(message))

    def info(self, message):
        _logging.log(_Level.INFO, str(message))

    def warn(self, message):
        _logging.log(_Level.WARN, str(message))

    def error(self, message):
        _logging.log(_Level.ERROR, str(message))


log = _Log()


class _State:
    """Small per-handler key/value state that survives instance recycling.
    Values are bytes; ``get_int``/``set_int`` store a u64 the way the Rust
    SDK's ``state::get_u64``/``set_u64`` do (8 bytes, little endian), and
    ``get_json``/``set_json`` any JSON value."""

    def get(self, key, default=None):
        value = _state.get(key)
        return default if value is None else value

    def set(self, key, value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        try:
            _state.set(key, bytes(value))
        except Err as e:
            raise WaspError(e.value) from None

    def remove(self, key):
        _state.remove(key)

    def get_int(self, key):
        value = _state.get(key)
        return int.from_bytes(value, "little") if value is not None and len(value) == 8 else 0

    def set_int(self, key, value):
        self.set(key, int(value).to_bytes(8, "little"))

    def get_json(self, key, default=None):
        value = _state.get(key)
        return default if value is None else _json.loads(value)

    def set_json(self, key, value):
        self.set(key, to_json(value))


state = _State()


class Handler:
    """Base class of a handler (optional: any class with ``handle`` works).

    ``__init__(self, config)`` gets the handler's ``config`` object (a
    ``dict``, ``{}`` when absent); ``handle(self, event)`` is called for
    every event, in journal order."""

    def __init__(self, config):
        self.config = config

    def handle(self, event):
        raise NotImplementedError("a handler must define handle(self, event)")


def _describe(error):
    message = str(error)
    name = type(error).__name__
    if isinstance(error, WaspError):
        return message
    return f"{name}: {message}" if message else name


def export(handler):
    """Returns the ``WitWorld`` class componentize-py exports, built around
    ``handler``: a class (instantiated with the config ``dict``) or a plain
    function ``handle(event)``. Assign it at module level:
    ``WitWorld = wasp_guest.export(MyHandler)``."""
    if not isinstance(handler, type):
        function = handler

        class _FunctionHandler:
            def __init__(self, config):
                pass

            def handle(self, event):
                return function(event)

        handler = _FunctionHandler

    class WitWorld:
        instance = None

        def init(self, config):
            try:
                settings = _json.loads(config) if config.strip() else {}
                WitWorld.instance = handler(settings)
            except BaseException as e:  # never trap: report it
                raise Err(_describe(e)) from None

        def handle_batch(self, events):
            global _current
            results = []
            instance = WitWorld.instance
            for raw in events:
                if instance is None:
                    results.append(Err("handler called before a successful init"))
                    continue
                _current = raw.sequence
                try:
                    instance.handle(Event(raw))
                    results.append(Ok(None))
                except BaseException as e:  # never trap: the event's err
                    try:
                        results.append(Err(_describe(e)))
                    except BaseException:
                        results.append(Err("handler raised an exception that cannot be printed"))
                finally:
                    _current = None
            return results

    return WitWorld


# ---- JSON exactly as serde_json writes it ---------------------------------

_I64_MIN, _U64_MAX = -(1 << 63), (1 << 64) - 1


# A string as JSON: what `json.dumps(s, ensure_ascii=False)` returns (the
# C encoder where CPython has it), without building a `JSONEncoder` for
# every call as `dumps` does when given an option.
_str_json = _json_encoder.encode_basestring


def to_json(value):
    """``value`` as compact JSON text, byte for byte as the Rust SDK's
    ``serde_json::Value::to_string`` writes it: object keys sorted, no
    spaces, non-ASCII as is, floats in shortest form (``1.0``, ``1e+21``,
    ``1.5e-7``). Integers outside i64/u64 are written as floats, like
    ``serde_json`` reads them; NaN and infinities as ``null``."""
    if type(value) is str:  # the common case, without the list and join
        return _str_json(value)
    if value is None:
        return "null"
    parts = []
    _write(value, parts)
    return "".join(parts)


def _write(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_str_json(value))
    elif isinstance(value, int):
        out.append(str(value) if _I64_MIN <= value <= _U64_MAX else _float(float(value)))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(_str_json(str(key)))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON")


def _float(x):
    """A float as serde_json formats it."""
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    sign = "-" if str(x).startswith("-") else ""
    return sign + format_shortest(repr(abs(x)))


def format_shortest(text):
    """Reformats the shortest round-trip text of a non-negative float
    (Python's ``repr``, JavaScript's ``toString``) the way serde_json 1.0.154
    (the ``zmij`` crate) does: plain notation for decimal exponents -5..=15
    (``100.0``, ``0.00012``), else ``1.5e-7`` / ``1e+21``."""
    mantissa, _, exp = text.partition("e")
    exponent = int(exp) if exp else 0
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent -= len(fraction)
    if not digits:
        return "0.0"
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + exponent
    if 0 <= exponent and kk <= 16:
        return digits + "0" * exponent + ".0"
    if 0 < kk <= 16:
        return digits[:kk] + "." + digits[kk:]
    if -5 < kk <= 0:
        return "0." + "0" * (-kk) + digits
    exp = f"e+{kk - 1}" if kk >= 1 else f"e-{1 - kk}"
    return (digits if length == 1 else f"{digits[0]}.{digits[1:]}") + exp
