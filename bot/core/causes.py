"""Why a connection failed, in words an operator can act on (DNS, refused, timeout, proxy, TLS).

Libraries wrap the real cause several layers deep (PTB's NetworkError around httpx's ConnectError
around an OSError); this walks the chain and names the innermost cause it recognises.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
        todo += [e for e in getattr(current, "exceptions", ()) if isinstance(e, BaseException)]


def _one(exc: BaseException) -> tuple[str, str] | None:
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, socket.gaierror) or "Name or service not known" in text:
        return "DNS: the host name does not resolve", "el nombre no se resuelve (DNS)"
    if "ProxyError" in name or "proxy" in text.lower():
        return f"the proxy failed ({text[:120]})", f"falla el proxy ({text[:120]})"
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE" in text.upper():
        return f"TLS/certificate error ({text[:120]})", f"error de certificado TLS ({text[:120]})"
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in text:
        return "connection refused", "conexión rechazada"
    if isinstance(exc, TimeoutError) or "Timeout" in name or "timed out" in text:
        return "no answer (timed out)", "no responde (tiempo agotado)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable", "red inalcanzable"
    if "InvalidPassword" in name or "password authentication failed" in text:
        return "user or password rejected", "usuario o contraseña rechazados"
    if "InvalidCatalogName" in name or ("database" in text and "does not exist" in text):
        return "that database does not exist", "esa base de datos no existe"
    return None


def cause_of(exc: BaseException, *, spanish: bool = False, telegram: bool = False) -> str:
    """The innermost recognised cause; else the exception's own first line. For calls to
    Telegram (`telegram`), the proxy in use is named too (HTTPS_PROXY is read by httpx)."""
    found: tuple[str, str] | None = None
    for link in _chain(exc):
        found = _one(link) or found
    if found is None:
        first = (str(exc).splitlines() or [""])[0][:200]
        english = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        found = (english, english)
    text = found[1] if spanish else found[0]
    proxy = next((os.environ[v] for v in _PROXY_VARIABLES if os.environ.get(v)), "")
    if proxy and telegram:
        proxy = urlsplit(proxy)._replace(netloc=urlsplit(proxy).netloc.rpartition("@")[2]).geturl()
        text += f" (a través del proxy {proxy})" if spanish else f" (through proxy {proxy})"
    return text


def is_permanent(exc: BaseException) -> bool:
    """A database error that waiting will not fix (wrong password, no such database)."""
    for link in _chain(exc):
        found = _one(link)
        if found is not None and found[0] in (
            "user or password rejected",
            "that database does not exist",
        ):
            return True
    return False
