"""The agent listener's `--web.config.file`: Prometheus exporter-toolkit's web configuration.

Read keys, as node_exporter reads them::

    tls_server_config:
      cert_file: server.pem            # both required when the section is present
      key_file: server.key
      client_ca_file: ca.pem           # with client_auth_type RequireAndVerifyClientCert
      client_auth_type: NoClientCert   # or VerifyClientCertIfGiven, RequireAndVerifyClientCert
      min_version: TLS12               # TLS10 .. TLS13
      max_version: TLS13
    basic_auth_users:                  # every route needs one of them; bcrypt hashes
      alice: $2y$10$...

File names are relative to the web config file. The other keys of the format (inline
certificates, cipher suites, curves, allowed SANs, HTTP headers, rate limits) are refused by
name rather than ignored. The users are re-read when the file changes (a file that no longer
parses makes every request a 500 until it is fixed); certificates are loaded at start. As in
exporter-toolkit, a bcrypt comparison runs for unknown users too (no user enumeration by
timing) and results are cached per (user, hash, password digest).

Imported only when the option is given; bcrypt only when there are users.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
from pathlib import Path
from typing import Any

import yaml

TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CACHE_SIZE = 100


class WebConfigError(ValueError):
    """A web config file that cannot be used; the message names the file and the key."""


class WebConfig:
    """The TLS context and basic-auth users of one web config file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        doc = _read(path)
        self.ssl = _tls_context(path, doc.get("tls_server_config"))
        self.users = _users(path, doc.get("basic_auth_users"))
        self._mtime = _mtime(path)
        self._cache: dict[tuple[str, bytes, bytes], bool] = {}
        self._decoy: bytes | None = None

    async def authorized(self, authorization: bytes | None) -> bool:
        """Whether a request with this Authorization header may pass (True without users)."""
        self._refresh()
        if not self.users:
            return True
        user, password = _basic(authorization)
        if user is None or not password:
            return False
        hashed = self.users.get(user)
        key = (user, hashed or b"", hashlib.sha256(password).digest())
        if key not in self._cache:
            ok = await asyncio.to_thread(_check, password, hashed or self._decoy_hash())
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = ok and hashed is not None
        return self._cache[key]

    def _refresh(self) -> None:
        """Re-read the users when the file changed (WebConfigError if it no longer parses)."""
        mtime = _mtime(self.path)
        if mtime != self._mtime:
            self.users = _users(self.path, _read(self.path).get("basic_auth_users"))
            self._mtime, self._cache = mtime, {}

    def _decoy_hash(self) -> bytes:
        if self._decoy is None:
            import bcrypt

            self._decoy = bcrypt.hashpw(b"pharos: no such user", bcrypt.gensalt(10))
        return self._decoy


def _check(password: bytes, hashed: bytes) -> bool:
    import bcrypt

    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:  # not a bcrypt hash
        return False


def _basic(authorization: bytes | None) -> tuple[str | None, bytes]:
    """(user, password) of a Basic Authorization header, (None, b"") for anything else."""
    scheme, _, value = (authorization or b"").strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None, b""
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return None, b""
    return (user.decode("utf-8", "replace"), password) if sep else (None, b"")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError as exc:
        raise WebConfigError(f"web config {path}: {exc.strerror or exc}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise WebConfigError(f"web config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise WebConfigError(f"web config {path}: not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise WebConfigError(f"web config {path}: expected a mapping of tls_server_config, basic_auth_users")
    unknown = set(doc) - {"tls_server_config", "basic_auth_users"}
    if unknown:
        raise WebConfigError(f"web config {path}: keys not supported by pharos agent: {sorted(unknown)}")
    return doc


def _users(path: Path, users: Any) -> dict[str, bytes]:
    if users is None:
        return {}
    if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
        raise WebConfigError(f"web config {path}: basic_auth_users: expected user: bcrypt hash pairs")
    if users:
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            raise WebConfigError(f"web config {path}: basic_auth_users needs the bcrypt package") from None
    return {str(user): hashed.encode() for user, hashed in users.items()}


def _tls_context(path: Path, tls: Any) -> ssl.SSLContext | None:
    """The server context of `tls_server_config` (None without the section)."""
    if tls is None:
        return None
    where = f"web config {path}: tls_server_config"
    if not isinstance(tls, dict):
        raise WebConfigError(f"{where}: expected a mapping")
    if unknown := set(tls) - TLS_KEYS:
        raise WebConfigError(f"{where}: keys not supported by pharos agent: {sorted(unknown)}")
    for key in ("cert_file", "key_file"):
        if not tls.get(key):
            raise WebConfigError(f"{where}: missing {key}")
    mode = _choice(where, "client_auth_type", tls.get("client_auth_type") or "NoClientCert", CLIENT_AUTH)
    ca = tls.get("client_ca_file")
    if ca and mode == ssl.CERT_NONE:
        raise WebConfigError(f"{where}: client_ca_file is set but client_auth_type is NoClientCert")
    if mode != ssl.CERT_NONE and not ca:
        raise WebConfigError(f"{where}: client_auth_type {tls['client_auth_type']} needs client_ca_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _choice(where, "min_version", tls.get("min_version") or "TLS12", VERSIONS)
    context.maximum_version = _choice(where, "max_version", tls.get("max_version") or "TLS13", VERSIONS)
    files = [path.parent / tls[key] for key in ("cert_file", "key_file", "client_ca_file") if tls.get(key)]
    try:
        context.load_cert_chain(files[0], files[1])
        if ca:
            context.load_verify_locations(files[2])
    except (OSError, ssl.SSLError) as exc:
        names = " / ".join(map(str, files))
        raise WebConfigError(f"{where}: cannot load {names}: {exc.strerror or exc}") from None
    context.verify_mode = mode
    return context


def _choice(where: str, key: str, value: Any, allowed: dict[str, Any]) -> Any:
    if value not in allowed:
        raise WebConfigError(f"{where}: {key} {value!r} is not one of {', '.join(allowed)}")
    return allowed[value]
