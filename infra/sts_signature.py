"""STS's own check of a header-signed GetCallerIdentity, which moto leaves out.

moto answers GetCallerIdentity for any access key it knows, whatever the request was
signed with. Real STS refuses a request whose SigV4 signature does not match the key's
secret (SignatureDoesNotMatch), a key it does not know or a session token that is not
the key's (InvalidClientTokenId), and a session past its expiry (ExpiredToken). The
functions ask STS exactly this when a cluster refuses their token, to tell a bad
signature from the other causes, so the emulator makes the same check here, in front of
moto, for that one action. Every other request passes untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qsl, quote

# (secret, session token, ARN, expiry) of an access key, or an exception if unknown.
FindCredentials = Callable[[str], tuple]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(method: str, path: str, query: str, headers: dict, body: bytes, secret: str,
              amz_date: str, region: str, service: str, signed: list[str]) -> str:
    """The SigV4 signature of a header-signed request, as AWS computes it."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    payload = headers.get("x-amz-content-sha256") or _sha256(body)
    canonical = "\n".join([method, quote(path or "/", safe="/-_.~"), canonical_query, canonical_headers,
                           ";".join(signed), payload])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, _sha256(canonical.encode())])
    return hmac.new(_signing_key(secret, amz_date[:8], region, service), to_sign.encode(),
                    hashlib.sha256).hexdigest()


def _headers(environ: dict) -> dict:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers


def refusal(environ: dict, body: bytes, find_credentials: FindCredentials) -> tuple[str, str] | None:
    """STS's error code and message for a GetCallerIdentity, or None when it is good."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    try:
        algorithm, rest = authorization.split(" ", 1)
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        access_key_id, date, region, service, _ = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        given = fields["Signature"]
    except (ValueError, KeyError):
        return "IncompleteSignature", "The request signature is not a SigV4 Authorization header."
    if algorithm != "AWS4-HMAC-SHA256":
        return "IncompleteSignature", f"Unsupported algorithm {algorithm}."
    try:
        secret, session_token, _arn, expiry = find_credentials(access_key_id)
    except Exception:  # moto does not know the key
        return "InvalidClientTokenId", "The security token included in the request is invalid."
    headers = _headers(environ)
    if session_token is not None and headers.get("x-amz-security-token") != session_token:
        return "InvalidClientTokenId", "The security token included in the request is invalid."
    if expiry is not None and datetime.now(timezone.utc) >= expiry.replace(tzinfo=expiry.tzinfo or timezone.utc):
        return "ExpiredToken", "The security token included in the request is expired."
    amz_date = headers.get("x-amz-date", "")
    want = signature(environ.get("REQUEST_METHOD", "POST"), environ.get("PATH_INFO", "/"),
                     environ.get("QUERY_STRING", ""), headers, body, secret, amz_date, region, service,
                     signed)
    if amz_date[:8] != date or not hmac.compare_digest(want, given):
        return ("SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.")
    return None


class StsSignatureCheck:
    """WSGI middleware: refuses a GetCallerIdentity whose signature STS would refuse."""

    def __init__(self, app, find_credentials: FindCredentials):
        self.app = app
        self.find_credentials = find_credentials

    def __call__(self, environ, start_response):
        if "/sts/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params.update(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if params.get("Action") != "GetCallerIdentity":
            return self.app(environ, start_response)
        refused = refusal(environ, body, self.find_credentials)
        if refused is None:
            return self.app(environ, start_response)
        code, message = refused
        xml = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
               f"<Code>{code}</Code><Message>{message}</Message></Error>"
               "<RequestId>lifeboat-emulator</RequestId></ErrorResponse>").encode()
        start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
        return [xml]
