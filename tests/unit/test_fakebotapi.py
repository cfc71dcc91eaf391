"""The fake Bot API misbehaves exactly as asked: faults, Telegram's edit refusals, flood limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fakebotapi import (
    NOT_FOUND,
    NOT_MODIFIED,
    UPGRADED,
    FakeBotAPI,
    Mishap,
    migrate_update,
    user,
)

TOKEN = "123:fake"
GROUP = -1001001
PERSON = 4242
KEYBOARD = {"inline_keyboard": [[{"text": "Sí", "callback_data": "y"}]]}


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def client(api: FakeBotAPI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api.url}/bot{TOKEN}/", timeout=2.0, trust_env=False) as c:
        yield c


def post(client: httpx.Client, method: str, **params: Any) -> httpx.Response:
    return client.post(method, json=params)


def send(client: httpx.Client, chat_id: int = GROUP, text: str = "hola", **params: Any) -> Any:
    response = post(client, "sendMessage", chat_id=chat_id, text=text, **params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


# --- fault injection ---------------------------------------------------------------------------


def test_a_slow_answer_is_carried_out_at_once_and_answered_late(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    api.slow_for = 1.0
    api.script(Mishap.SLOW, chat_id=GROUP)
    answered: list[Any] = []
    started = time.monotonic()
    sender = threading.Thread(target=lambda: answered.append(send(client, text="lento")))
    sender.start()
    # Carried out (and visible to a test) while its answer is still on the way.
    call = api.wait_for(lambda c: c.method == "sendMessage")
    assert not answered and call.fault is None
    sender.join()
    assert time.monotonic() - started >= 1.0
    assert answered[0]["message_id"] == call.result["message_id"]


def test_a_seeded_share_of_calls_fails(api: FakeBotAPI, client: httpx.Client) -> None:
    api.inject_faults(0.2, ("429", "500", "502", "403", "drop"), seed=7)
    failed = 0
    for n in range(200):
        try:
            response = post(client, "sendMessage", chat_id=PERSON, text=f"m{n}")
        except httpx.TransportError:
            failed += 1
        else:
            failed += response.status_code != 200
    faulted = [c for c in api.calls if c.fault]
    assert 25 <= failed <= 55
    assert len(faulted) == failed == sum(api.fault_counts.values())
    assert set(api.fault_counts) <= {"429", "500", "502", "403", "drop"}
    assert all(c.result is None for c in faulted)
    assert len(api.sent(PERSON)) == 200 - failed


def test_the_same_seed_faults_the_same_calls() -> None:
    def pattern() -> list[str | None]:
        fake = FakeBotAPI(TOKEN).start()
        try:
            fake.inject_faults(0.3, ("500", "403"), seed=3)
            with httpx.Client(base_url=f"{fake.url}/bot{TOKEN}/", trust_env=False) as c:
                for _ in range(30):
                    post(c, "sendMessage", chat_id=PERSON, text="x")
            return [call.fault for call in fake.calls]
        finally:
            fake.stop()

    assert pattern() == pattern()


def test_429_carries_retry_after(api: FakeBotAPI, client: httpx.Client) -> None:
    api.inject_faults(1.0, ("429",), retry_after=3)
    response = post(client, "sendMessage", chat_id=GROUP, text="hola")
    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    [call] = api.calls
    assert call.fault == "429" and call.result is None
    assert api.messages == {} and api.fault_counts == {"429": 1}


@pytest.mark.parametrize(
    ("kind", "description"),
    [
        ("500", "Internal Server Error"),
        ("502", "Bad Gateway"),
        ("403", "Forbidden: bot was kicked from the supergroup chat"),
    ],
)
def test_error_faults(api: FakeBotAPI, client: httpx.Client, kind: str, description: str) -> None:
    api.inject_faults(1.0, (kind,))
    response = post(client, "sendMessage", chat_id=GROUP, text="hola")
    assert response.status_code == int(kind)
    assert response.json() == {"ok": False, "error_code": int(kind), "description": description}
    assert api.calls[0].fault == kind and api.calls[0].result is None
    assert api.messages == {}


def test_timeout_processes_the_call_but_answers_late(api: FakeBotAPI, client: httpx.Client) -> None:
    api.inject_faults(1.0, ("timeout",), timeout_delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        client.post("sendMessage", json={"chat_id": GROUP, "text": "hola"}, timeout=0.1)
    [call] = api.calls
    assert call.fault == "timeout" and call.result is not None
    assert api.text_of(GROUP, call.result["message_id"]) == "hola"

    started = time.monotonic()
    response = post(client, "sendMessage", chat_id=GROUP, text="otra")
    assert response.status_code == 200 and response.json()["result"]["text"] == "otra"
    assert time.monotonic() - started >= 0.3
    assert api.fault_counts == {"timeout": 2}


def test_drop_closes_without_answer_and_does_nothing(api: FakeBotAPI, client: httpx.Client) -> None:
    api.inject_faults(1.0, ("drop",))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(client, "sendMessage", chat_id=GROUP, text="hola")
    [call] = api.calls
    assert call.fault == "drop" and call.result is None
    assert api.messages == {} and api.sent() == []


def test_faults_spare_polling_and_callback_answers_unless_named(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    api.inject_faults(1.0, ("500",))
    assert post(client, "getUpdates", timeout=0).status_code == 200
    assert post(client, "answerCallbackQuery", callback_query_id="1").status_code == 200
    assert post(client, "getMe").status_code == 200
    assert post(client, "sendMessage", chat_id=GROUP, text="x").status_code == 500

    api.inject_faults(1.0, ("502",), methods={"getUpdates"})
    assert post(client, "getUpdates", timeout=0).status_code == 502
    assert post(client, "sendMessage", chat_id=GROUP, text="x").status_code == 200
    assert api.calls_of("getUpdates")[-1].fault == "502"

    api.clear_faults()
    assert post(client, "getUpdates", timeout=0).status_code == 200


def test_targeted_failures_with_retry_after_deadline_and_drop(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    api.fail(
        "sendMessage",
        chat_id=GROUP,
        code=429,
        description="Too Many Requests: retry after 5",
        retry_after=5,
        until=time.monotonic() + 0.2,
    )
    response = post(client, "sendMessage", chat_id=GROUP, text="x")
    assert response.status_code == 429 and response.json()["parameters"] == {"retry_after": 5}
    assert post(client, "sendMessage", chat_id=PERSON, text="x").status_code == 200
    time.sleep(0.25)
    assert post(client, "sendMessage", chat_id=GROUP, text="x").status_code == 200

    api.fail("pinChatMessage", code=0, times=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(client, "pinChatMessage", chat_id=GROUP, message_id=1)
    assert api.calls[-1].fault == "drop" and api.pinned == {}
    assert post(client, "pinChatMessage", chat_id=GROUP, message_id=1).status_code == 200


# --- Telegram's edit semantics -------------------------------------------------------------------


def test_an_identical_edit_is_not_modified(api: FakeBotAPI, client: httpx.Client) -> None:
    message_id = send(client, text="estado", reply_markup=KEYBOARD)["message_id"]
    same = {"chat_id": GROUP, "message_id": message_id, "text": "estado", "reply_markup": KEYBOARD}
    response = post(client, "editMessageText", **same)
    assert response.status_code == 400
    assert response.json()["description"] == NOT_MODIFIED
    assert api.calls[-1].result is None and api.not_modified_count() == 1

    assert post(client, "editMessageText", **{**same, "text": "nuevo"}).status_code == 200
    # Dropping the keyboard is a change; dropping it again (empty keyboard) is not.
    assert (
        post(client, "editMessageText", chat_id=GROUP, message_id=message_id, text="nuevo")
    ).status_code == 200
    response = post(
        client,
        "editMessageText",
        chat_id=GROUP,
        message_id=message_id,
        text="nuevo",
        reply_markup={"inline_keyboard": []},
    )
    assert response.status_code == 400 and api.not_modified_count() == 2
    assert api.text_of(GROUP, message_id) == "nuevo"


def test_edit_reply_markup_of_a_known_message(api: FakeBotAPI, client: httpx.Client) -> None:
    message_id = send(client, text="pregunta", reply_markup=KEYBOARD)["message_id"]
    assert api.buttons_on(GROUP, message_id) == [("Sí", "y")]
    response = post(client, "editMessageReplyMarkup", chat_id=GROUP, message_id=message_id)
    assert response.json() == {"ok": True, "result": True}
    assert api.buttons_on(GROUP, message_id) == []


def test_editing_an_unknown_or_deleted_message_is_not_found(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    for method in ("editMessageText", "editMessageReplyMarkup"):
        response = post(client, method, chat_id=GROUP, message_id=1, text="x")
        assert response.status_code == 400 and response.json()["description"] == NOT_FOUND
    message_id = send(client)["message_id"]
    api.delete_message(GROUP, message_id)
    for method in ("editMessageText", "editMessageReplyMarkup"):
        response = post(client, method, chat_id=GROUP, message_id=message_id, text="x")
        assert response.status_code == 400 and response.json()["description"] == NOT_FOUND
    assert all(c.result is None for c in api.calls if c.method.startswith("edit"))
    assert api.not_modified_count() == 0


# --- other methods -----------------------------------------------------------------------------


def test_pins_reactions_and_documents(api: FakeBotAPI, client: httpx.Client) -> None:
    first, second = send(client)["message_id"], send(client)["message_id"]
    for message_id in (first, second):
        assert post(client, "pinChatMessage", chat_id=GROUP, message_id=message_id).json() == {
            "ok": True,
            "result": True,
        }
    assert api.pinned == {GROUP: {first, second}}
    post(client, "unpinChatMessage", chat_id=GROUP, message_id=first)
    assert api.pinned == {GROUP: {second}}
    post(client, "unpinChatMessage", chat_id=GROUP)
    assert api.pinned == {GROUP: set()}

    reaction = [{"type": "emoji", "emoji": "👍"}]
    response = post(client, "setMessageReaction", chat_id=GROUP, message_id=1, reaction=reaction)
    assert response.json() == {"ok": True, "result": True}

    response = post(client, "sendDocument", chat_id=GROUP, document="DOC-1", caption="informe")
    document = response.json()["result"]
    assert document["document"]["file_id"] == "DOC-1" and document["caption"] == "informe"
    assert api.text_of(GROUP, document["message_id"]) == "informe"


def test_duplicate_sends(api: FakeBotAPI, client: httpx.Client) -> None:
    send(client, text="a")
    send(client, text="a")
    send(client, text="b")
    send(client, chat_id=PERSON, text="a")
    api.fail("sendMessage", code=500, description="Internal Server Error", times=1)
    post(client, "sendMessage", chat_id=GROUP, text="b")  # failed: not delivered
    assert api.duplicate_sends() == [(GROUP, "a")]

    api.inject_faults(1.0, ("timeout",), timeout_delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        client.post("sendMessage", json={"chat_id": GROUP, "text": "a"}, timeout=0.05)
    assert api.duplicate_sends() == [(GROUP, "a"), (GROUP, "a")]


# --- flood limits and migration -------------------------------------------------------------------


def test_flood_limit_per_group(api: FakeBotAPI, client: httpx.Client) -> None:
    api.enforce_flood_limits(per_second=1000, group_per_minute=3)
    for n in range(3):
        send(client, text=f"m{n}")
    response = post(client, "editMessageText", chat_id=GROUP, message_id=1, text="x")
    assert response.status_code == 429
    retry_after = response.json()["parameters"]["retry_after"]
    assert 55 <= retry_after <= 60
    assert response.json()["description"] == f"Too Many Requests: retry after {retry_after}"
    assert api.calls[-1].fault == "flood" and api.flood_429s == 1
    send(client, chat_id=PERSON)  # private chats have no per-minute limit
    assert post(client, "getChat", chat_id=GROUP).status_code == 200  # reads are not limited


def test_flood_limit_per_second(api: FakeBotAPI, client: httpx.Client) -> None:
    api.enforce_flood_limits(per_second=5, group_per_minute=1000)
    for n in range(5):
        send(client, chat_id=PERSON + n)
    response = post(client, "sendMessage", chat_id=PERSON, text="x")
    assert response.status_code == 429 and response.json()["parameters"] == {"retry_after": 1}
    assert api.flood_429s == 1
    time.sleep(1.0)
    send(client, chat_id=PERSON)


def test_migrated_group(api: FakeBotAPI, client: httpx.Client) -> None:
    update = migrate_update(-55, GROUP, user(PERSON, "Ana"))
    assert update["message"]["chat"]["id"] == -55
    assert update["message"]["migrate_to_chat_id"] == GROUP
    api.push(update)
    [received] = post(client, "getUpdates", timeout=0).json()["result"]
    assert received["message"]["migrate_to_chat_id"] == GROUP

    api.migrated[-55] = GROUP
    response = post(client, "sendMessage", chat_id=-55, text="hola")
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": UPGRADED,
        "parameters": {"migrate_to_chat_id": GROUP},
    }
    assert api.calls[-1].result is None
    send(client, chat_id=GROUP)


# --- the wire ------------------------------------------------------------------------------------


def test_answer_is_a_complete_http_response_on_a_kept_connection(api: FakeBotAPI) -> None:
    host, port = api._server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=2) as sock:
        for _ in range(2):  # the connection stays open for the next call, as Telegram's do
            sock.sendall(f"GET /bot{TOKEN}/getMe HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                data.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]
            ):
                data += sock.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Content-Type: application/json" in head
            assert f"Content-Length: {len(body)}".encode() in head
            assert b'"ok": true' in body


def test_a_request_whose_body_never_comes_runs_nothing(api: FakeBotAPI) -> None:
    """A client that sent the head and stopped (a copy of the bot paused there, then refused
    to send the body once it woke without its lease): Telegram runs nothing."""
    host, port = api._server.server_address[:2]
    body = b"callback_query_id=7&text=ok"  # a form, as python-telegram-bot posts it
    head = (
        f"POST /bot{TOKEN}/answerCallbackQuery HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    for sent in (b"", body[:20]):  # no body at all, or part of it
        with socket.create_connection((str(host), int(port)), timeout=2) as sock:
            sock.sendall(head.encode() + sent)
    with socket.create_connection((str(host), int(port)), timeout=2) as sock:
        sock.sendall(head.encode() + body)  # the whole request: it runs
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert [c.method for c in api.calls] == ["answerCallbackQuery"]
    assert api.calls[0].params["callback_query_id"] == "7"


def test_stopping_cuts_kept_connections() -> None:
    api = FakeBotAPI(TOKEN).start()
    host, port = api._server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=2) as sock:
        sock.sendall(f"GET /bot{TOKEN}/getMe HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        api.stop()
        try:
            sock.sendall(f"GET /bot{TOKEN}/getMe HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            after = sock.recv(65536)
        except OSError:
            after = b""
    assert after == b""  # no answer once stopped: the bot sees the network fail


# --- real groups: the rules the fake keeps as Telegram does -------------------------------------


def refused(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert not body["ok"]
    return body["error_code"], body["description"]


def test_html_is_parsed_as_the_bot_api_parses_it(api: FakeBotAPI, client: httpx.Client) -> None:
    ok = post(client, "sendMessage", chat_id=GROUP, text="<b>ok</b> &lt;x&gt;", parse_mode="HTML")
    assert ok.status_code == 200
    assert refused(
        post(client, "sendMessage", chat_id=GROUP, text="a <foo>b</foo>", parse_mode="HTML")
    ) == (400, 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 2')
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="<b>x", parse_mode="HTML")) == (
        400,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
    )
    # Without a parse mode the same text is just text.
    assert post(client, "sendMessage", chat_id=GROUP, text="a <foo>b").status_code == 200


def test_length_is_counted_after_parsing_in_utf16_units(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    assert post(client, "sendMessage", chat_id=GROUP, text="👍" * 2048).status_code == 200
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="👍" * 2049)) == (
        400,
        "Bad Request: message is too long",
    )
    tags = "<b>" + "x" * 4096 + "</b>"  # 4,103 characters of source, 4,096 shown
    assert (
        post(client, "sendMessage", chat_id=GROUP, text=tags, parse_mode="HTML").status_code == 200
    )
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="  ")) == (
        400,
        "Bad Request: message text is empty",
    )


def test_topics_general_closed_and_deleted(api: FakeBotAPI, client: httpx.Client) -> None:
    api.make_forum(GROUP, {12: "Alertas"})
    message = send(client, text="en el tema", message_thread_id=12)
    assert message["message_thread_id"] == 12 and message["is_topic_message"] is True
    assert "message_thread_id" not in send(client, text="en General")
    # General has no id to send to: 1 is refused, as Telegram refuses it.
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x", message_thread_id=1)) == (
        400,
        "Bad Request: message thread not found",
    )
    api.close_topic(GROUP, 12)
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x", message_thread_id=12)) == (
        400,
        "Bad Request: TOPIC_CLOSED",
    )
    api.close_topic(GROUP, None)
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x")) == (
        400,
        "Bad Request: TOPIC_CLOSED",
    )
    api.delete_topic(GROUP, 12)
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x", message_thread_id=12)) == (
        400,
        "Bad Request: message thread not found",
    )


def test_a_thread_id_in_a_group_without_topics_is_refused(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x", message_thread_id=5)) == (
        400,
        "Bad Request: message thread not found",
    )


def test_reactions_are_limited_to_telegrams_list_and_the_groups_choice(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    def react(emoji: str) -> httpx.Response:
        reaction = [{"type": "emoji", "emoji": emoji}]
        return post(client, "setMessageReaction", chat_id=GROUP, message_id=1, reaction=reaction)

    assert react("👍").status_code == 200
    assert refused(react("✅")) == (400, "Bad Request: REACTION_INVALID")  # not in the list
    api.group(GROUP).reactions = frozenset({"❤"})
    assert refused(react("👍")) == (400, "Bad Request: REACTION_INVALID")
    api.group(GROUP).reactions = frozenset()  # turned off
    assert refused(react("❤")) == (400, "Bad Request: REACTION_INVALID")


def test_the_bot_removed_and_added_back(api: FakeBotAPI, client: httpx.Client) -> None:
    update = api.remove_bot(GROUP, "kicked")
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert update["my_chat_member"]["old_chat_member"]["status"] == "administrator"
    assert refused(post(client, "sendMessage", chat_id=GROUP, text="x")) == (
        403,
        "Forbidden: bot was kicked from the supergroup chat",
    )
    back = api.add_bot(GROUP, "member")
    assert back["my_chat_member"]["old_chat_member"]["status"] == "kicked"
    assert send(client)["chat"]["id"] == GROUP
    # A member, not an admin: it may not pin.
    assert refused(post(client, "pinChatMessage", chat_id=GROUP, message_id=1)) == (
        400,
        "Bad Request: not enough rights to manage pinned messages in the chat",
    )


def test_a_message_telegram_will_not_edit(api: FakeBotAPI, client: httpx.Client) -> None:
    message = send(client)
    api.make_uneditable(GROUP, message["message_id"])
    response = post(
        client, "editMessageText", chat_id=GROUP, message_id=message["message_id"], text="otro"
    )
    assert refused(response) == (400, "Bad Request: message can't be edited")


def test_an_edit_without_buttons_removes_them(api: FakeBotAPI, client: httpx.Client) -> None:
    message = send(client, reply_markup=KEYBOARD)
    assert api.buttons_on(GROUP, message["message_id"]) == [("Sí", "y")]
    post(client, "editMessageText", chat_id=GROUP, message_id=message["message_id"], text="otro")
    assert api.buttons_on(GROUP, message["message_id"]) == []


def test_updates_from_topics_look_like_telegrams() -> None:
    from telegram import Update

    from tests.support.fakebotapi import bot_member_update, command_update, user

    data = command_update(GROUP, user(1, "Ana"), "/caido", topic=12, topic_name="Alertas")
    message = Update.de_json({"update_id": 1, **data}, None).message
    assert message is not None
    assert message.is_topic_message and message.message_thread_id == 12
    assert message.reply_to_message is not None
    assert message.reply_to_message.forum_topic_created is not None
    for old, new in (("administrator", "kicked"), ("restricted", "administrator")):
        parsed = Update.de_json({"update_id": 2, **bot_member_update(GROUP, old, new)}, None)
        assert parsed.my_chat_member is not None
        assert parsed.my_chat_member.new_chat_member.status == new
