"""An evaluator of AWS policy documents, for what the AWS emulator does not enforce.

moto evaluates no bucket policy's conditions and no key policy at all, so the claims the
module's resource policies make (only the restore role reads backups, the backup role
writes create-only, no one but the named invokers runs restore) are proven by evaluating
the rendered documents here: the policy language's rules for Allow and Deny, principals,
actions, resources and the condition operators the module uses. It is not a full
implementation of IAM; an operator or key it does not know fails the test that meets it.

Same-account rules: an explicit Deny in any policy wins; otherwise an Allow in the
identity policy or the resource policy grants. KMS is stricter: the key policy must
allow the principal itself, or allow the account and leave it to an identity policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Request:
    principal: str
    action: str
    resource: str
    context: dict = field(default_factory=dict)


def _list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def actions(statement: dict) -> list:
    """A statement's `Action`, which IAM allows as one string or a list of them."""
    return _list(statement.get("Action"))


def resources(statement: dict) -> list:
    """A statement's `Resource`, one string or a list of them."""
    return _list(statement.get("Resource"))


def _wild(pattern: str, value: str, case: bool = True) -> bool:
    """IAM's wildcards: * for any run, ? for one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.I) is not None


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def _principal_matches(statement: dict, principal: str) -> bool:
    """Whether a resource policy statement's Principal (or NotPrincipal) names `principal`."""
    def named(block) -> bool:
        if block == "*":
            return True
        for arn in _list(block.get("AWS")):
            if arn == "*" or arn == principal:
                return True
            # The account's root stands for every principal of the account.
            if re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:root", arn) and account_of(arn) == account_of(principal):
                return True
        return False

    if "Principal" in statement:
        return named(statement["Principal"])
    if "NotPrincipal" in statement:
        return not named(statement["NotPrincipal"])
    return True  # identity policies have none


def _condition_holds(operator: str, key: str, wanted: list, context: dict) -> bool:
    present = {k.lower(): v for k, v in context.items()}
    value = present.get(key.lower())
    values = [str(v).lower() if operator == "Bool" else str(v) for v in _list(value)]
    wanted = [str(w) for w in wanted]
    if operator == "Null":
        return (value is None) == (wanted[0].lower() == "true")
    negated = "Not" in operator
    if value is None:
        # A negated operator holds for a key the request lacks; the others do not.
        return negated
    if operator in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        match = any(v == w for v in values for w in wanted)
    elif operator in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        match = any(_wild(w, v) for v in values for w in wanted)
    elif operator == "Bool":
        match = any(v == w.lower() for v in values for w in wanted)
    else:
        raise AssertionError(f"the evaluator does not know the condition operator {operator}")
    return not match if negated else match


def _statement_applies(statement: dict, request: Request, resource_policy: bool) -> bool:
    if resource_policy and not _principal_matches(statement, request.principal):
        return False
    if "Action" in statement:
        if not any(_wild(a, request.action, case=False) for a in actions(statement)):
            return False
    elif any(_wild(a, request.action, case=False) for a in _list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(_wild(r, request.resource) for r in _list(statement["Resource"])):
            return False
    elif any(_wild(r, request.resource) for r in _list(statement.get("NotResource"))):
        return False
    # What every request carries: who makes it, and over TLS unless a test says otherwise.
    context = {"aws:PrincipalArn": request.principal, "aws:SecureTransport": "true", **request.context}
    for operator, keys in statement.get("Condition", {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key, _list(wanted), context):
                return False
    return True


def _effects(policy: dict | None, request: Request, resource_policy: bool) -> set:
    if not policy:
        return set()
    return {s["Effect"] for s in _list(policy["Statement"]) if _statement_applies(s, request, resource_policy)}


def allowed(request: Request, identity: list[dict], resource: dict | None = None, guards: list[dict] = ()) -> bool:
    """Whether a same-account request to a service other than KMS goes through.

    `guards` are deny-lists attached above the principal (an SCP or permissions boundary).
    """
    effects = set()
    for policy in identity:
        effects |= _effects(policy, request, resource_policy=False)
    for guard in guards:
        effects |= _effects(guard, request, resource_policy=False) & {"Deny"}
    resource_effects = _effects(resource, request, resource_policy=True)
    if "Deny" in effects | resource_effects:
        return False
    return "Allow" in effects | resource_effects


def kms_allowed(request: Request, identity: list[dict], key_policy: dict) -> bool:
    """Whether a request to use or manage a KMS key goes through."""
    key_effects = _effects(key_policy, request, resource_policy=True)
    identity_effects = set()
    for policy in identity:
        identity_effects |= _effects(policy, request, resource_policy=False)
    if "Deny" in key_effects | identity_effects:
        return False
    if "Allow" in key_effects and _names_principal_itself(key_policy, request):
        return True
    # Otherwise only through the account: the key policy must let the root delegate it.
    root = f"arn:aws:iam::{account_of(request.principal)}:root"
    # Conditions still see the caller: aws:PrincipalArn is the role, not the account.
    delegated = Request(root, request.action, request.resource, {"aws:PrincipalArn": request.principal, **request.context})
    return "Allow" in _effects(key_policy, delegated, resource_policy=True) and "Allow" in identity_effects


def _names_principal_itself(key_policy: dict, request: Request) -> bool:
    for statement in _list(key_policy["Statement"]):
        if statement["Effect"] != "Allow" or not _statement_applies(statement, request, resource_policy=True):
            continue
        arns = _list(statement.get("Principal", {}).get("AWS")) if isinstance(statement.get("Principal"), dict) else []
        if request.principal in arns or "*" in arns:
            return True
    return False
