"""The AWS emulator the Terraform tests deploy into: moto in server mode, in-process,
on a loopback port of its own (not the local stack's), so each test run starts empty.

moto 5.2.1 looks trails up by name only in StartLogging, StopLogging and DeleteTrail,
while the AWS provider calls them with the trail's ARN, as AWS accepts; without the
shim below the provider retries StartLogging until it times out.
"""

import logging
import urllib.request

from moto.cloudtrail.models import CloudTrailBackend
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer


def _by_name_or_arn(method):
    def resolved(self, name, *args, **kwargs):
        if name not in self.trails:
            name = next((t.trail_name for t in self.trails.values() if t.arn == name), name)
        return method(self, name, *args, **kwargs)

    return resolved


for _name in ("start_logging", "stop_logging", "delete_trail"):
    setattr(CloudTrailBackend, _name, _by_name_or_arn(getattr(CloudTrailBackend, _name)))


def start(port: int) -> ThreadedMotoServer:
    """A server on `port` over an empty emulator (servers of one process share state)."""
    # One line per request would bury the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    return server


def put_backup(account: str, bucket: str, key: str, body: bytes, kms_key_id: str):
    """Stores an object as the backup function does: SSE-KMS with the bucket's key, over TLS.

    Straight into the emulator's state, because moto applies a bucket policy's Deny
    statements to object writes without evaluating their conditions, so the policy's
    TLS and encryption rules refuse every write it serves over plain HTTP.
    """
    s3_backends[account]["global"].put_object(bucket, key, body, encryption="aws:kms", kms_key_id=kms_key_id)


def stored(account: str, bucket: str, key: str) -> bytes | None:
    """An object's bytes, read from the emulator's state for the same reason."""
    found = s3_backends[account]["global"].get_object(bucket, key)
    return None if found is None else found.value


if __name__ == "__main__":
    import sys
    import time

    start(int(sys.argv[1]))
    while True:
        time.sleep(3600)
