"""A fake Telegram Bot API server on 127.0.0.1 that queues updates and records every call.

The bot under test is pointed at it through TELEGRAM_API_URL. It keeps the current text and
buttons of every message it was asked to send or edit, so tests can assert on what people see.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {
    "id": 999000,
    "is_bot": True,
    "first_name": "FLEXUS Guardia",
    "username": "flexus_guardia_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_INT_KEYS = {
    "chat_id",
    "message_id",
    "user_id",
    "offset",
    "timeout",
    "limit",
    "reply_to_message_id",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    result: Any = None

    @property
    def chat_id(self) -> int | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button in the call's reply_markup."""
        return buttons_of(self.params.get("reply_markup"))


def buttons_of(markup: Any) -> list[tuple[str, str]]:
    if not isinstance(markup, dict):
        return []
    return [
        (b.get("text", ""), b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


@dataclass
class Failure:
    method: str
    chat_id: int | None
    code: int
    description: str
    times: int | None  # None = always


def user(user_id: int, first: str, last: str = "", username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
    if last:
        data["last_name"] = last
    if username:
        data["username"] = username
    return data


def chat(chat_id: int, title: str = "Equipo") -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "X"}
    return {"id": chat_id, "type": "supergroup", "title": title}


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.chat_member_status: dict[tuple[int, int], str] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._failures: list[Failure] = []
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # --- what tests do ---------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def fail(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        code: int = 403,
        description: str = "Forbidden: bot was blocked by the user",
        times: int | None = None,
    ) -> None:
        with self._cond:
            self._failures.append(Failure(method, chat_id, code, description, times))

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method == method and (chat_id is None or c.chat_id == chat_id)
            ]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls (what appeared as new messages)."""
        return [c for c in self.calls_of("sendMessage", chat_id) if c.result is not None]

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 15.0, after: int = 0
    ) -> Call:
        """The first call (from index `after`) matching `predicate`; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls[after:]:
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = "\n".join(f"  {c.method} {c.params}" for c in self.calls[-15:])
                    raise AssertionError(
                        f"no matching call within {timeout}s; last calls:\n{recent}"
                    )
                self._cond.wait(remaining)

    def wait_idle(self, quiet: float = 0.4, timeout: float = 15.0) -> None:
        """Wait until no call other than getUpdates arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                busy = [c for c in self.calls if c.method != "getUpdates"]
                last = busy[-1].at if busy else 0.0
                pending = bool(self._updates)
            if not pending and time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError("the bot did not go quiet")

    def mark(self) -> int:
        with self._cond:
            return len(self.calls)

    def text_of(self, chat_id: int, message_id: int) -> str:
        return str(self.messages[(chat_id, message_id)]["text"])

    def buttons_on(self, chat_id: int, message_id: int) -> list[tuple[str, str]]:
        return buttons_of(self.messages[(chat_id, message_id)].get("reply_markup"))

    # --- the HTTP side ---------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                prefix = f"/bot{api.token}/"
                if not self.path.startswith(prefix):
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                method = self.path[len(prefix) :].split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params = _parse(self.headers.get("Content-Type", ""), body)
                status, payload = api._dispatch(method, params)
                self._reply(status, payload)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _failure_for(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, params.get("chat_id")):
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                return failure
        return None

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        with self._cond:
            call = Call(method, params)
            self.calls.append(call)
            failure = self._failure_for(method, params)
            if failure is not None:
                self._cond.notify_all()
                return failure.code, {
                    "ok": False,
                    "error_code": failure.code,
                    "description": failure.description,
                }
            call.result = self._result(method, params)
            self._cond.notify_all()
            return 200, {"ok": True, "result": call.result}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            self.calls.append(Call("getUpdates", params))
            self._cond.notify_all()
            # Confirming an offset drops everything before it, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates[:100])

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendPhoto"):
            message_id = next(self._message_ids)
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat(int(chat_id or 0)),
                "from": BOT_USER,
            }
            if method == "sendPhoto":
                message["photo"] = [
                    {
                        "file_id": str(params.get("photo")),
                        "file_unique_id": "u",
                        "width": 10,
                        "height": 10,
                    }
                ]
                message["caption"] = params.get("caption", "")
            else:
                message["text"] = params.get("text", "")
            if _inline(params.get("reply_markup")):  # Telegram echoes only inline keyboards
                message["reply_markup"] = params["reply_markup"]
            self.messages[(int(chat_id or 0), message_id)] = {
                "text": params.get("text") or params.get("caption") or "",
                "reply_markup": params.get("reply_markup"),
            }
            return message
        if method == "editMessageText":
            key = (int(chat_id or 0), int(params.get("message_id") or 0))
            self.messages[key] = {
                "text": params.get("text", ""),
                "reply_markup": params.get("reply_markup"),
            }
            message = {
                "message_id": key[1],
                "date": int(time.time()),
                "chat": chat(key[0]),
                "text": params.get("text", ""),
                "from": BOT_USER,
            }
            if _inline(params.get("reply_markup")):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getChatMember":
            key = (int(chat_id or 0), int(params.get("user_id") or 0))
            status = self.chat_member_status.get(key, "left")
            return {"status": status, "user": user(key[1], "Alguien")}
        if method == "getChat":
            return chat(int(chat_id or 0))
        return True


def _inline(markup: Any) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(body))
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        raw = {
            part.get_param("name", header="content-disposition"): part.get_content()
            for part in message.iter_parts()
        }
    else:
        raw = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {key: _value(key, value) for key, value in raw.items()}


def _value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _INT_KEYS:
        try:
            return int(value)
        except ValueError:
            return value
    if value[:1] in "[{" and key not in ("text", "caption"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value in ("true", "false") and key not in ("text", "caption"):
        return value == "true"
    return value


# --- updates as Telegram sends them ----------------------------------------------------------

_incoming_ids = itertools.count(1)


def command_update(chat_id: int, sender: dict[str, Any], text: str) -> dict[str, Any]:
    command = text.split()[0] if text.startswith("/") else ""
    message: dict[str, Any] = {
        "message_id": next(_incoming_ids),
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": sender,
        "text": text,
    }
    if command:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"message": message}


def photo_update(
    chat_id: int, sender: dict[str, Any], caption: str, file_id: str = "PHOTO-1"
) -> dict[str, Any]:
    command = caption.split()[0] if caption.startswith("/") else ""
    message: dict[str, Any] = {
        "message_id": next(_incoming_ids),
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": sender,
        "caption": caption,
        "photo": [
            {"file_id": file_id, "file_unique_id": file_id + "u", "width": 640, "height": 480}
        ],
    }
    if command:
        message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"message": message}


def press_update(
    chat_id: int, message_id: int, sender: dict[str, Any], data: str
) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": str(next(_incoming_ids)),
            "from": sender,
            "chat_instance": str(chat_id),
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat(chat_id),
                "from": BOT_USER,
                "text": "…",
            },
        }
    }


def reply_update(chat_id: int, sender: dict[str, Any], text: str, reply_to: int) -> dict[str, Any]:
    """A text message answering one of the bot's messages (e.g. a ForceReply question)."""
    update = command_update(chat_id, sender, text)
    update["message"]["reply_to_message"] = {
        "message_id": reply_to,
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": BOT_USER,
        "text": "…",
    }
    return update
