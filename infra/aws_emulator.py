#!/usr/bin/env python3
"""The AWS side of lifeboat's local stack, in one process.

moto serves S3, KMS, STS, IAM, EKS and CloudTrail. Next to it, in the same process so that it can
read moto's in-memory state, runs a Kubernetes TokenReview webhook that checks EKS-style
bearer tokens (what `aws eks get-token` prints) the way aws-iam-authenticator does, and
maps the caller's IAM role to a Kubernetes user like an EKS access entry. Real STS would
answer the presigned GetCallerIdentity request in the token; here nothing may leave the
machine, so the signature is checked against the secret key that moto issued.

Started by infra/up.sh; see infra/README.md for what is seeded and what is checked.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from moto.core import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends
from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sts.models import sts_backends
from waitress.server import create_server

from sts_signature import StsSignatureCheck

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# aws-iam-authenticator's limit; a real token is well under 2 KiB.
MAX_TOKEN_BYTES = 4096
# Lower-cased, as aws-iam-authenticator compares them.
ALLOWED_QUERY_PARAMS = {
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-security-token",
    "x-amz-signature",
}
SIGNED_HEADERS = "host;" + CLUSTER_ID_HEADER
# A client clock somewhat ahead of ours is tolerated, as STS tolerates it.
MAX_CLOCK_SKEW = timedelta(minutes=5)
REVIEW_VERSIONS = ("authentication.k8s.io/v1", "authentication.k8s.io/v1beta1")
MAX_REVIEW_BYTES = 64 * 1024

ASSUMED_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/(.+)")
IAM_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.+/)?([^/]+)")

SEED_KW = dict(aws_access_key_id="testing", aws_secret_access_key="testing")
# DescribeCluster would otherwise need VPC details; moto does not check that they exist.
VPC_CONFIG = {"subnetIds": ["subnet-lifeboat"], "endpointPublicAccess": True}


def emit(record: dict) -> None:
    """One JSON line on stdout, which up.sh sends to the stack's moto log."""
    record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record}
    # A single write keeps lines whole while moto's threads log to the same file.
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


class Refused(Exception):
    """A token that does not authenticate; the message says why, without secrets."""


# --- seeding -------------------------------------------------------------------------


def seed(endpoint: str, region: str, args: argparse.Namespace, entries: list) -> None:
    kw = dict(endpoint_url=endpoint, region_name=region, **SEED_KW)
    iam = boto3.client("iam", **kw)
    eks = boto3.client("eks", **kw)

    # Anyone in the account may assume the roles: moto does not evaluate trust policies,
    # but the document is what a real account would hold.
    trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
        }],
    })
    for entry in entries:
        m = IAM_ROLE_ARN.fullmatch(entry["principalArn"])
        if m and m.group(2) == DEFAULT_ACCOUNT_ID:
            iam.create_role(RoleName=m.group(3), AssumeRolePolicyDocument=trust,
                            Description="lifeboat local stack: " + entry["username"])

    cluster_role = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/lifeboat-eks-cluster"
    iam.create_role(RoleName="lifeboat-eks-cluster", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }))
    names = [args.cluster, *args.extra_cluster, args.creating_cluster]
    for name in names:
        eks.create_cluster(name=name, roleArn=cluster_role, resourcesVpcConfig=VPC_CONFIG)

    # moto makes up an endpoint and random CA data; every cluster here is the one local
    # apiserver, and tokens for the extra ones are refused by the webhook's signature check.
    ca_data = base64.b64encode(open(args.ca, "rb").read()).decode()
    backend = eks_backends[DEFAULT_ACCOUNT_ID][region]
    for name in names:
        cluster = backend.clusters[name]
        cluster.endpoint = args.kube_server
        cluster.certificate_authority = {"data": ca_data}
        cluster.status = "ACTIVE"
    # A cluster still being created has neither endpoint nor CA yet, as in EKS.
    creating = backend.clusters[args.creating_cluster]
    creating.status = "CREATING"
    creating.endpoint = None
    creating.certificate_authority = {}

    seed_trail(kw, args)
    seed_backups(endpoint, kw, args)


def seed_backups(endpoint: str, kw: dict, args: argparse.Namespace) -> None:
    """The backup bucket and its KMS key, as the Terraform module makes them: versioned,
    with Object Lock (governance mode) holding each version, and SSE-KMS by default.

    moto draws key ids from a random generator that its API lets us seed: seeding it
    right before creating the key gives the same key ARN after every restart (for one
    moto version), so configuration copied from the env file does not go stale. The
    key's ARN is written to --key-arn-file for up.sh to put in the env file.
    """
    import urllib.request

    kms = boto3.client("kms", **kw)
    s3 = boto3.client("s3", **kw)
    urllib.request.urlopen(urllib.request.Request(
        endpoint + "/moto-api/seed?a=20240101", method="POST"), timeout=10).read()
    key = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                         Description="lifeboat local backups")["KeyMetadata"]
    kms.create_alias(AliasName=args.kms_alias, TargetKeyId=key["KeyId"])
    # The catalog's fingerprint key: an HMAC key that never leaves KMS (Terraform makes
    # the same). Named by its alias, which stays the same whatever id moto draws.
    fingerprints = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                                  Description="lifeboat catalog fingerprints")["KeyMetadata"]
    kms.create_alias(AliasName=args.fingerprint_alias, TargetKeyId=fingerprints["KeyId"])
    s3.create_bucket(Bucket=args.backup_bucket, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=args.backup_bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=args.backup_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    s3.put_bucket_encryption(Bucket=args.backup_bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}, "BucketKeyEnabled": True}],
    })
    if args.key_arn_file:
        with open(args.key_arn_file + ".tmp", "w") as f:
            f.write(key["Arn"] + "\n")
        os.replace(args.key_arn_file + ".tmp", args.key_arn_file)


def seed_trail(kw: dict, args: argparse.Namespace) -> None:
    """The audit trail the Terraform module creates, as the functions' check sees it.

    Multi-Region, with log-file validation, into its own encrypted bucket; it records S3
    data events on the backup bucket and the invocations of every function. moto keeps
    no events, but the functions only ask whether the trail is logging and what its
    selectors cover, and moto answers that as CloudTrail does.
    """
    s3 = boto3.client("s3", **kw)
    cloudtrail = boto3.client("cloudtrail", **kw)
    s3.create_bucket(Bucket=args.audit_log_bucket)
    s3.put_bucket_encryption(Bucket=args.audit_log_bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}],
    })
    cloudtrail.create_trail(Name=args.trail, S3BucketName=args.audit_log_bucket,
                            IsMultiRegionTrail=True, EnableLogFileValidation=True,
                            IncludeGlobalServiceEvents=True)
    cloudtrail.put_event_selectors(TrailName=args.trail, EventSelectors=[{
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [
            {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{args.backup_bucket}/"]},
            {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
        ],
    }])
    cloudtrail.start_logging(Name=args.trail)


# --- token verification --------------------------------------------------------------


def find_credentials(access_key_id: str) -> tuple[str, str | None, str, datetime | None]:
    """Secret key, session token, caller ARN and expiry of a key moto issued."""
    # Snapshots: moto's threads may add accounts and sessions meanwhile.
    for _account, backends in list(dict.items(sts_backends)):
        for _partition, backend in list(dict.items(backends)):
            for role in list(backend.assumed_roles):
                if role.access_key_id == access_key_id:
                    return role.secret_access_key, role.session_token, role.arn, role.expiration
    for _account, backends in list(dict.items(iam_backends)):
        for _partition, backend in list(dict.items(backends)):
            for user in list(backend.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key_id:
                        if key.status != "Active":
                            raise Refused(f"access key {access_key_id} is inactive")
                        return key.secret_access_key, None, user.arn, None
    raise Refused(f"unknown access key {access_key_id}")


def canonical_arn(arn: str) -> str:
    """The IAM role behind an assumed-role session, as EKS matches access entries."""
    m = ASSUMED_ROLE_ARN.fullmatch(arn)
    if m:
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}"
    return arn


def expected_signature(url: str, params: dict, access_key_id: str, secret: str,
                       session_token: str | None, region: str, amz_date: str,
                       expires: int, cluster: str) -> str:
    """Signs the request anew with botocore, as the signer STS runs would."""
    # Only the operation parameters go in; the signer adds the X-Amz-* ones itself, so
    # every value that was signed must come out the same for the signature to match.
    operation = {k: v for k, v in params.items() if not k.lower().startswith("x-amz-")}
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}?{percent_encode_sequence(operation)}"
    # The cluster is ours, never the token's: that binds the token to this cluster.
    request = AWSRequest(method="GET", url=base, headers={CLUSTER_ID_HEADER: cluster})
    signer = SigV4QueryAuth(Credentials(access_key_id, secret, session_token), "sts", region,
                            expires=expires)
    # add_auth() would stamp the current time; the token's own time is what was signed.
    request.context["timestamp"] = amz_date
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


class Verifier:
    def __init__(self, cluster: str, regions: list[str], max_age: int, entries: list):
        self.cluster = cluster
        self.max_age = timedelta(seconds=max_age)
        # STS host -> the region its signatures are scoped to.
        self.hosts = {f"sts.{r}.amazonaws.com": r for r in regions}
        self.hosts["sts.amazonaws.com"] = "us-east-1"
        self.entries = {e["principalArn"]: e for e in entries}

    def verify(self, token: str, facts: dict) -> dict:
        """The TokenReview user for a good token; raises Refused otherwise."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Refused("token is too large")
        if not token.startswith(TOKEN_PREFIX):
            raise Refused(f"token is missing the {TOKEN_PREFIX!r} prefix")
        body = token[len(TOKEN_PREFIX):]
        try:
            url = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_",
                                   validate=True).decode("utf-8")
            parts = urlsplit(url)
        except ValueError:
            raise Refused("token is not base64url of a URL") from None

        if parts.scheme != "https":
            raise Refused(f"unexpected scheme {parts.scheme!r} in presigned URL")
        region = self.hosts.get(parts.netloc)
        if region is None:
            raise Refused(f"unexpected STS host {parts.netloc!r} in presigned URL")
        if parts.path != "/":
            raise Refused("unexpected path in presigned URL")
        if parts.fragment:
            raise Refused("unexpected fragment in presigned URL")

        try:
            pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise Refused("malformed query in presigned URL") from None
        params, lower = {}, {}
        for key, value in pairs:
            if key.lower() not in ALLOWED_QUERY_PARAMS:
                raise Refused(f"query parameter {key!r} is not allowed")
            if key.lower() in lower:
                raise Refused(f"query parameter {key!r} appears more than once")
            params[key] = value
            lower[key.lower()] = value

        # Logged with every decision, a refusal too, so each can be told by its key.
        facts["access_key_id"] = lower.get("x-amz-credential", "").split("/")[0]
        if lower.get("action") != "GetCallerIdentity":
            raise Refused("Action is not GetCallerIdentity")
        if lower.get("version") != "2011-06-15":
            raise Refused("Version is not 2011-06-15")
        if lower.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise Refused("X-Amz-Algorithm is not AWS4-HMAC-SHA256")
        signed = lower.get("x-amz-signedheaders", "")
        if CLUSTER_ID_HEADER not in signed.split(";"):
            raise Refused(f"the {CLUSTER_ID_HEADER} header is not signed")
        # The request the apiserver side sends carries no other header worth signing.
        if signed != SIGNED_HEADERS:
            raise Refused(f"X-Amz-SignedHeaders is {signed!r}, expected {SIGNED_HEADERS!r}")
        try:
            expires = int(lower.get("x-amz-expires", ""))
        except ValueError:
            raise Refused("X-Amz-Expires is missing or not a number") from None
        if not 0 <= expires <= 900:
            raise Refused(f"X-Amz-Expires {expires} is outside 0..900")

        amz_date = lower.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise Refused("X-Amz-Date is missing or malformed") from None
        now = datetime.now(timezone.utc)
        facts["signed_at"] = amz_date
        # As aws-iam-authenticator: the token lives for a fixed time after its X-Amz-Date,
        # whatever X-Amz-Expires says (STS ignores that too for this call).
        if now > signed_at + self.max_age:
            raise Refused(f"expired: X-Amz-Date {amz_date} is more than "
                          f"{int(self.max_age.total_seconds())}s old")
        if signed_at > now + MAX_CLOCK_SKEW:
            raise Refused(f"X-Amz-Date {amz_date} is in the future")

        scope = lower.get("x-amz-credential", "").split("/")
        if len(scope) != 5 or scope[3:] != ["sts", "aws4_request"]:
            raise Refused("X-Amz-Credential is not <key>/<date>/<region>/sts/aws4_request")
        access_key_id, scope_date, scope_region = scope[:3]
        facts["access_key_id"] = access_key_id
        if scope_date != amz_date[:8]:
            raise Refused("X-Amz-Credential date differs from X-Amz-Date")
        if scope_region != region:
            raise Refused(f"credential scope region {scope_region!r} does not match host "
                          f"{parts.netloc!r}")

        secret, session_token, arn, expiry = find_credentials(access_key_id)
        facts["arn"] = arn
        given_token = lower.get("x-amz-security-token")
        if session_token is None and given_token is not None:
            raise Refused("X-Amz-Security-Token given for long-term credentials")
        if session_token is not None:
            if given_token is None:
                raise Refused("X-Amz-Security-Token missing for session credentials")
            if not hmac.compare_digest(given_token.encode(), session_token.encode()):
                raise Refused("X-Amz-Security-Token does not belong to the access key")
        if expiry is not None and now >= expiry.replace(tzinfo=expiry.tzinfo or timezone.utc):
            raise Refused("session credentials have expired")

        want = expected_signature(url, params, access_key_id, secret, session_token, region,
                                  amz_date, expires, self.cluster)
        if not hmac.compare_digest(want.encode(), lower.get("x-amz-signature", "").encode()):
            raise Refused(f"signature mismatch for cluster {self.cluster}")

        principal = canonical_arn(arn)
        entry = self.entries.get(principal)
        if entry is None:
            raise Refused(f"no access entry for {principal}")
        extra = {"arn": [arn], "canonicalArn": [principal], "accessKeyId": [access_key_id]}
        m = ASSUMED_ROLE_ARN.fullmatch(arn)
        if m:
            extra["sessionName"] = [m.group(4)]
        return {"username": entry["username"], "uid": arn,
                "groups": list(entry.get("kubernetesGroups", [])), "extra": extra}


class WebhookHandler(BaseHTTPRequestHandler):
    verifier: Verifier
    server_version = "lifeboat-token-webhook"
    timeout = 30
    # The default error page quotes the request line, which may be a token when a
    # client gets the framing wrong; the caller may log the page.
    error_message_format = "%(code)d %(explain)s\n"
    error_content_type = "text/plain"
    protocol_version = "HTTP/1.1"
    # A reply goes out as two writes, the headers and then the body. With Nagle's
    # algorithm the body waited for the caller's delayed ACK of the headers, up to 40 ms
    # on every review: as long as the first request of each function run then took.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (base class name)
        pass  # each decision is logged as JSON instead; requests alone say nothing new

    def reply(self, code: int, body: dict | str) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(code)
        self.send_header("Content-Type",
                         "application/json" if isinstance(body, dict) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == "/healthz":
            self.reply(200, "ok")
        else:
            self.reply(404, "not found\n")

    def do_POST(self) -> None:  # noqa: N802
        # Whatever the answer, the connection is not reused unless the body was read:
        # left unread, it would be taken for the next request (and the apiserver logs
        # such a reply whole, token included).
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self.reply(411, "Content-Length required\n")
            return
        if not 0 < length <= MAX_REVIEW_BYTES:
            self.close_connection = True
            self.reply(413, "request body too large or empty\n")
            return
        data = self.rfile.read(length)
        # client-go adds ?timeout=30s to the configured URL.
        if urlsplit(self.path).path != "/authenticate":
            self.reply(404, "not found\n")
            return
        try:
            review = json.loads(data)
            version = review["apiVersion"]
            if version not in REVIEW_VERSIONS or review.get("kind") != "TokenReview":
                raise ValueError(version)
            token = review["spec"]["token"]
            if not isinstance(token, str):
                raise ValueError("token")
        except (ValueError, KeyError, TypeError):
            self.reply(400, "expected a TokenReview of authentication.k8s.io/v1 or v1beta1\n")
            return

        facts: dict = {}
        try:
            user = self.verifier.verify(token, facts)
            status = {"authenticated": True, "user": user}
            reason = "ok"
        except Refused as e:
            status = {"authenticated": False, "error": str(e)}
            reason = str(e)
            user = None
        except Exception as e:  # a bug here must refuse, never let a token through
            status = {"authenticated": False, "error": "internal error verifying the token"}
            reason = f"internal error: {type(e).__name__}: {e}"
        emit({"event": "tokenreview", "cluster": self.verifier.cluster,
              "authenticated": status["authenticated"], "reason": reason,
              "username": user["username"] if user else None, "api_version": version,
              **facts})
        self.reply(200, {"apiVersion": version, "kind": "TokenReview",
                         "metadata": {"creationTimestamp": None},
                         "spec": {}, "status": status})


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, tls: ssl.SSLContext | None):
        super().__init__(address, handler)
        self.tls = tls

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake happens here, in the connection's own thread, so a client
        # that stalls in it holds up no one else.
        request.settimeout(WebhookHandler.timeout)
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        err = sys.exc_info()[1]
        emit({"event": "webhook-connection-error", "peer": client_address[0],
              "error": f"{type(err).__name__}: {err}"})


# --- main ----------------------------------------------------------------------------


def cache_moto_module_list() -> None:
    """moto's dispatcher lists its own package directory, under a global lock, on every
    request, to tell a service name from a host name. The list cannot change while the
    process runs, so it is read once: that listing was a fifth of the emulator's CPU time
    in a backup, time taken from the API server and the functions on a small machine."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def list_versions_without_copying_data() -> None:
    """moto's ListObjectVersions deep-copies every version of every key of the bucket, its
    data included, on every call, only to set a flag on the copies; the memory is not
    given back, so the emulator grew by the bucket's size per call (a restore lists its
    manifest's versions, and `latest` those of each run it looks at): 22 GB in one test
    run. Here the listing gets views of the versions instead, which share their data."""
    import copy
    import io

    import moto.s3.models as models

    listing = threading.local()

    def view(version):
        if not isinstance(version, models.FakeKey):
            return copy.copy(version)
        version.etag  # computed, if it is not yet, from the data the view does not hold
        seen = object.__new__(models.FakeKey)
        seen.__dict__.update(version.__dict__)
        # What disposing of the view closes is its own.
        seen._value_buffer = io.BytesIO()
        seen.multipart = None
        seen.disposed = True
        return seen

    class CopyShim:
        def __getattr__(self, name):
            return getattr(copy, name)

        def deepcopy(self, value, memo=None):
            if getattr(listing, "on", False) and isinstance(value, list):
                return [view(v) for v in value]
            return copy.deepcopy(value, memo)

    original = models.S3Backend.list_object_versions

    def list_object_versions(self, *args, **kwargs):
        listing.on = True
        try:
            return original(self, *args, **kwargs)
        finally:
            listing.on = False

    models.copy = CopyShim()
    models.S3Backend.list_object_versions = list_object_versions


def replicate_like_s3() -> None:
    """S3 replication, which moto stores but does not perform. A version written to a
    bucket with an enabled replication rule is copied to the rule's destination bucket as
    S3 copies it: same key, same version id, encrypted with the rule's replica KMS key,
    with its Object Lock retention. S3 copies within minutes; here the copy is made with
    the write, which a test can only see as sooner. No deletion is replicated, as S3
    replicates none of a version."""
    import moto.s3.models as models

    original = models.S3Backend.put_object

    def put_object(self, bucket_name, key_name, value, *args, **kwargs):
        written = original(self, bucket_name, key_name, value, *args, **kwargs)
        rules = (getattr(self.get_bucket(bucket_name), "replication", None) or {}).get("Rule", [])
        for rule in rules:
            prefix = (rule.get("Filter") or {}).get("Prefix") or rule.get("Prefix") or ""
            if rule.get("Status") != "Enabled" or not key_name.startswith(prefix):
                continue
            destination = rule["Destination"]
            target = self.get_bucket(destination["Bucket"].split(":::")[-1])
            replica = models.FakeKey(
                name=key_name,
                bucket_name=target.name,
                value=written.value,
                account_id=self.account_id,
                region_name=target.region_name,
                is_versioned=target.is_versioned,
                version_id=written.version_id,
                encryption="aws:kms",
                kms_key_id=(destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
                lock_mode=written.lock_mode,
                lock_legal_status=written.lock_legal_status,
                lock_until=written.lock_until,
                checksum_value=written.checksum_value,
            )
            target.keys.setlist(key_name, target.keys.getlist(key_name, []) + [replica])
        return written

    models.S3Backend.put_object = put_object


class RequestLog:
    """Logs each request as one line on stderr, in the form moto's own server writes
    (`127.0.0.1 - - [22/Nov/2026 09:52:58] "PUT /bucket/key HTTP/1.1" 200 -`): the
    benchmark counts S3 writes from these lines."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        # moto reads the undecoded path from RAW_URI where its own server sets it.
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        status = []

        def start(code, headers, exc_info=None):
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            line = '%s - - [%s] "%s %s %s" %s -\n' % (
                environ.get("REMOTE_ADDR", "-"),
                datetime.now().strftime("%d/%b/%Y %H:%M:%S"),
                environ.get("REQUEST_METHOD"),
                environ.get("REQUEST_URI", ""),
                environ.get("SERVER_PROTOCOL"),
                status[0] if status else "500",
            )
            with self.lock:
                sys.stderr.write(line)
                sys.stderr.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=15000, help="moto's port")
    p.add_argument("--region", default="us-east-1", help="where the EKS clusters live")
    p.add_argument("--cluster", default="lifeboat-local",
                   help="the EKS cluster the local apiserver is; the webhook accepts "
                        "tokens for this name only")
    p.add_argument("--extra-cluster", action="append", default=["lifeboat-other"],
                   help="another ACTIVE cluster with the same endpoint (repeatable)")
    p.add_argument("--creating-cluster", default="lifeboat-creating",
                   help="a cluster left in status CREATING")
    p.add_argument("--kube-server", default="https://127.0.0.1:16443")
    p.add_argument("--ca", required=True, help="PEM of the cluster CA, served by DescribeCluster")
    p.add_argument("--webhook-port", type=int, default=15001)
    p.add_argument("--tls-cert", help="webhook serving certificate (PEM); plain HTTP without")
    p.add_argument("--tls-key", help="its private key")
    p.add_argument("--access-entries", required=True,
                   help="JSON: {\"accessEntries\": [{principalArn, username, kubernetesGroups}]}")
    p.add_argument("--sts-regions", default="us-east-1",
                   help="comma-separated regions whose STS endpoint a token may name "
                        "(the global endpoint is always accepted)")
    p.add_argument("--backup-bucket", default="lifeboat-backups-123456789012-us-east-1",
                   help="the bucket whose object events the audit trail records")
    p.add_argument("--trail", default="lifeboat-audit", help="the audit trail's name")
    p.add_argument("--kms-alias", default="alias/lifeboat-backups", help="alias of the backups' KMS key")
    p.add_argument("--fingerprint-alias", default="alias/lifeboat-fingerprints",
                   help="alias of the catalog's HMAC key for fingerprints")
    p.add_argument("--key-arn-file", help="where to write the KMS key's ARN once it exists")
    p.add_argument("--audit-log-bucket", default=f"lifeboat-audit-{DEFAULT_ACCOUNT_ID}",
                   help="where the audit trail delivers its logs")
    p.add_argument("--source-digest", help="ignored: lets up.sh see that this file changed")
    p.add_argument("--max-token-age", type=int,
                   default=int(os.environ.get("LIFEBOAT_WEBHOOK_MAX_TOKEN_AGE_SECONDS", "900")),
                   help="seconds a token stays valid after its X-Amz-Date")
    args = p.parse_args()

    entries = json.load(open(args.access_entries))["accessEntries"]
    regions = [r.strip() for r in args.sts_regions.split(",") if r.strip()]

    # Stop cleanly on TERM (down.sh) as on Ctrl-C; the servers run in daemon threads.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    # moto builds some URLs (presigned S3 ones, say) from this, as its own server sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    cache_moto_module_list()
    list_versions_without_copying_data()
    replicate_like_s3()
    # Bound here, not in a thread, so a port in use fails the start instead of hanging it.
    # waitress keeps connections open between requests and serves them from a pool of
    # threads; moto's own server closes every connection and starts a thread for each.
    # A request waiting for a free thread is normal here, not worth a warning a line.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # STS's signature check of GetCallerIdentity, which moto does not make; see sts_signature.py.
    app = StsSignatureCheck(DomainDispatcherApplication(create_backend_app), find_credentials)
    moto = create_server(RequestLog(app),
                         host=args.host, port=args.port, threads=8, connection_limit=1000,
                         ident="moto")
    threading.Thread(target=moto.run, name="moto", daemon=True).start()
    seed(f"http://{args.host}:{args.port}", args.region, args, entries)

    WebhookHandler.verifier = Verifier(args.cluster, regions, args.max_token_age, entries)
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    webhook = WebhookServer((args.host, args.webhook_port), WebhookHandler, tls)
    scheme = "https" if tls else "http"
    # The webhook answers only once seeding is done, so its health check is the
    # readiness check of the whole process.
    threading.Thread(target=webhook.serve_forever, name="webhook", daemon=True).start()
    emit({"event": "ready", "moto": f"http://{args.host}:{args.port}",
          "webhook": f"{scheme}://{args.host}:{args.webhook_port}/authenticate",
          "cluster": args.cluster, "max_token_age_seconds": args.max_token_age,
          "sts_regions": regions})

    stop.wait()
    webhook.shutdown()
    moto.close()


if __name__ == "__main__":
    main()
