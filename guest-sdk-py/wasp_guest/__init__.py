"""WASP guest SDK for Python handlers (built with componentize-py).

A handler is a class with ``__init__(self, config)`` and ``handle(self,
event)``; decorate it with :func:`handler` and make the module export
``WitWorld`` (``from wasp_guest import WitWorld``)::

    from wasp_guest import Event, WitWorld, emit, handler

    @handler
    class Echo:
        def __init__(self, config: dict):
            self.output = config.get("output", "out.log")

        def handle(self, event: Event) -> None:
            emit(self.output, f"{event.sequence} {event.get('/userId')}")

Build it (``scripts/build-guests.sh`` shows the exact command)::

    componentize-py -d wit -w handler componentize --stub-wasi -p . -p guest-sdk-py app -o app.wasm

What the SDK guarantees: an exception raised by ``__init__`` becomes the
``err`` of ``init`` (the handler is disabled with its message), and one
raised by ``handle`` becomes the ``err`` of that event (it is dead-lettered
with the message); neither traps the instance. ``emit`` refusing a record
raises :class:`WaspError`, which fails the event the same way unless the
handler catches it.
"""

from __future__ import annotations

import json as _json
from typing import Any, Optional, Union

from componentize_py_types import Err, Ok
from wit_world import WitWorld as _WitWorld
from wit_world.imports import logging as _logging
from wit_world.imports import output as _output
from wit_world.imports import state as _state
from wit_world.imports import types as _types

__all__ = ["Event", "WaspError", "WitWorld", "emit", "handler", "log", "state"]

_MISSING = object()


class WaspError(Exception):
    """The host refused a call (e.g. ``emit`` to an undeclared output)."""


class Event:
    """One audit event: the common fields as attributes, the document on
    demand (parsed once, only if asked for)."""

    __slots__ = ("id", "topic", "sequence", "timestamp", "event_name", "transaction_id", "user_id", "json", "_document")

    def __init__(self, raw: _types.Event):
        self.id: str = raw.id
        self.topic: str = raw.topic
        self.sequence: int = raw.sequence
        self.timestamp: str = raw.timestamp
        self.event_name: Optional[str] = raw.event_name
        self.transaction_id: Optional[str] = raw.transaction_id
        self.user_id: Optional[str] = raw.user_id
        #: The whole event document as JSON text.
        self.json: str = raw.json
        self._document: Any = _MISSING

    @property
    def document(self) -> dict:
        """The event document, parsed (once)."""
        if self._document is _MISSING:
            self._document = _json.loads(self.json)
        return self._document

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a JSON pointer (``/client/ip``, ``/principal/0``) or
        a dotted path (``client.ip``); ``default`` when absent."""
        if path == "":
            return self.document
        if path.startswith("/"):
            parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
        else:
            parts = path.split(".")
        value: Any = self.document
        for part in parts:
            if isinstance(value, dict):
                if part not in value:
                    return default
                value = value[part]
            elif isinstance(value, list):
                if not part.isdigit() or (len(part) > 1 and part[0] == "0") or int(part) >= len(value):
                    return default
                value = value[int(part)]
            else:
                return default
        return value

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, topic={self.topic!r}, sequence={self.sequence})"


# The event being handled: `emit` stages records on its behalf.
_current: Optional[int] = None


def emit(output: str, record: Union[str, bytes]) -> None:
    """Stages ``record`` for the declared output ``output``, on behalf of
    the event being handled. Committed only if the event succeeds."""
    if _current is None:
        raise WaspError("emit is only possible while an event is handled")
    data = record.encode("utf-8") if isinstance(record, str) else bytes(record)
    try:
        _output.emit(_current, output, data)
    except Err as refused:
        raise WaspError(str(refused.value)) from None


class _Log:
    """``log.info("…")`` and friends write to the host's log."""

    def __call__(self, level: str, message: str) -> None:
        _logging.log(_LEVELS[level], str(message))

    def trace(self, message: str) -> None:
        _logging.log(_types.Level.TRACE, str(message))

    def debug(self, message: str) -> None:
        _logging.log(_types.Level.DEBUG, str(message))

    def info(self, message: str) -> None:
        _logging.log(_types.Level.INFO, str(message))

    def warn(self, message: str) -> None:
        _logging.log(_types.Level.WARN, str(message))

    def error(self, message: str) -> None:
        _logging.log(_types.Level.ERROR, str(message))


_LEVELS = {"trace": _types.Level.TRACE, "debug": _types.Level.DEBUG, "info": _types.Level.INFO, "warn": _types.Level.WARN, "error": _types.Level.ERROR}

log = _Log()


class _State:
    """The handler's key/value state: shared by its instances, kept across
    recycling, rolled back with a faulted call."""

    def get(self, key: str) -> Optional[bytes]:
        return _state.get(key)

    def set(self, key: str, value: Union[str, bytes]) -> None:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        try:
            _state.set(key, data)
        except Err as refused:
            raise WaspError(str(refused.value)) from None

    def remove(self, key: str) -> None:
        _state.remove(key)

    def get_json(self, key: str, default: Any = None) -> Any:
        data = _state.get(key)
        return default if data is None else _json.loads(data)

    def set_json(self, key: str, value: Any) -> None:
        self.set(key, _json.dumps(value, separators=(",", ":")))

    def get_int(self, key: str, default: int = 0) -> int:
        data = _state.get(key)
        return default if data is None else int(data)

    def set_int(self, key: str, value: int) -> None:
        self.set(key, str(int(value)))


state = _State()

_handler_class: Any = None


def handler(cls):
    """Class decorator: the handler this component exports."""
    global _handler_class
    _handler_class = cls
    return cls


def _message(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class WitWorld(_WitWorld):
    """The component's exports (componentize-py looks for ``WitWorld`` in
    the app module: import it there)."""

    _instance: Any = None

    def init(self, config: str) -> None:
        if _handler_class is None:
            raise Err("no handler class: decorate one with @wasp_guest.handler")
        try:
            settings = _json.loads(config) if config else {}
            WitWorld._instance = _handler_class(settings)
        except Exception as error:  # noqa: BLE001 - every failure becomes the init error
            raise Err(_message(error)) from None

    def handle_batch(self, events):
        global _current
        results = []
        instance = WitWorld._instance
        for raw in events:
            _current = raw.sequence
            try:
                instance.handle(Event(raw))
                results.append(Ok(None))
            except Exception as error:  # noqa: BLE001 - an exception fails its event only
                results.append(Err(_message(error)))
            finally:
                _current = None
        return results
