"""The policy evaluator's own rules, on hand-written documents: no emulator needed.

IAM accepts `Action` and `Resource` as one string or a list; a guard that walks a
string as a list would check its characters and pass whatever the policy grants.
"""

import unittest

import policy
from policy import Request, allowed

ROLE = "arn:aws:iam::123456789012:role/lifeboat-backup"
BUCKET = "arn:aws:s3:::lifeboat-backups"


class StatementsWithOneActionOrResource(unittest.TestCase):
    def test_a_single_action_or_resource_is_read_as_one_not_as_its_characters(self):
        statement = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
        self.assertEqual(policy.actions(statement), ["kms:Decrypt"])
        self.assertEqual(policy.resources(statement), ["*"])
        self.assertEqual(policy.actions({"Effect": "Allow", "NotAction": "s3:*"}), [])

    def test_a_single_action_does_not_match_an_action_it_merely_contains(self):
        statement = {"Effect": "Allow", "Action": "s3:ListBucketVersions", "Resource": BUCKET}
        self.assertNotIn("s3:ListBucket", policy.actions(statement))
        identity = [{"Statement": [statement]}]
        self.assertFalse(allowed(Request(ROLE, "s3:ListBucket", BUCKET), identity))
        self.assertTrue(allowed(Request(ROLE, "s3:ListBucketVersions", BUCKET), identity))

    def test_a_guard_with_one_denied_action_as_a_string_denies_it(self):
        identity = [{"Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}]
        guard = {"Statement": [{"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}
        invoke = Request(ROLE, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:x")
        self.assertTrue(allowed(invoke, identity))
        self.assertFalse(allowed(invoke, identity, guards=[guard]))
        other = Request(ROLE, "lambda:GetFunction", invoke.resource)
        self.assertTrue(allowed(other, identity, guards=[guard]))


if __name__ == "__main__":
    unittest.main()
