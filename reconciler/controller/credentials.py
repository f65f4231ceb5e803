"""Which secret values the gateway's configuration depends on, as fingerprints.

A reconcile of an unchanged revision plans nothing, yet a secret named by a subject's
`tokenFrom` may have changed its content (a rotated token). `fingerprints` reads every such
value and keeps only an HMAC of it under a key that lives in this process's memory, so the
controller notices a rotation on its next reconcile or resync without keeping the token,
or even its plain hash, anywhere. `rotated` names the references whose value changed,
for the `CredentialRotated` event (which never carries a value).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from ..core.desired import DesiredState
from ..core.errors import ReconcilerError
from ..secrets import SecretResolver

UNREADABLE = "unreadable"
_KEY = secrets.token_bytes(32)


def fingerprints(desired: DesiredState, resolver: SecretResolver) -> dict[str, str]:
    """`ToolPermission/name: spec.subjects.N.tokenFrom (reference)` -> HMAC of its value."""
    found: dict[str, str] = {}
    for permission in desired.permissions:
        for index, subject in enumerate(permission.spec.subjects):
            source = subject.token_from
            if source is None:
                continue
            where = f"{permission.key}: spec.subjects.{index}.tokenFrom ({source.describe()})"
            try:
                value = resolver.resolve(source)
            except ReconcilerError:
                found[where] = UNREADABLE
            else:
                found[where] = hmac.new(_KEY, value.encode(), hashlib.sha256).hexdigest()
    return found


def rotated(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """References present in both whose value changed (or became readable or unreadable)."""
    return sorted(ref for ref, value in after.items() if ref in before and before[ref] != value)
