"""Who may look at and operate the OMS through the blotter: access tokens with a user and a role.

`OMS_BLOTTER_TOKENS` lists the tokens, comma-separated, each `token:user:role`
(e.g. `s3cret:alice:operate,v1ew:bob:read`). A `read` token sees everything;
an `operate` token may also act (kill switch, trading states, venue breaker
overrides), and its user is the `changed_by` of every control it writes.
`parse_tokens` refuses a malformed entry, an unknown role, an invalid user
name or a token given twice with a `ValueError` naming the entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Role(str, Enum):
    READ = "read"
    OPERATE = "operate"


@dataclass(frozen=True)
class Grant:
    """What one token allows: the user it stands for and the role."""

    user: str
    role: Role

    @property
    def may_operate(self) -> bool:
        return self.role is Role.OPERATE


_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def parse_tokens(spec: str) -> dict[str, Grant]:
    """`token:user:role,...` as token -> `Grant` (empty text: no tokens, nobody gets in)."""
    grants: dict[str, Grant] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        token, sep1, rest = entry.partition(":")
        user, sep2, role = rest.partition(":")
        shown = f"{token[:2]}…:{user}:{role}" if token else entry
        if not (sep1 and sep2 and token and user and role):
            raise ValueError(f"blotter tokens: {shown!r} is not token:user:role")
        if len(token) < 4:
            raise ValueError(f"blotter tokens: the token of user {user!r} is shorter than 4 characters")
        if not _USER.match(user):
            raise ValueError(f"blotter tokens: {user!r} is not a valid user name")
        try:
            grant = Grant(user, Role(role.strip().lower()))
        except ValueError:
            raise ValueError(f"blotter tokens: role {role!r} of user {user!r} is not read or operate") from None
        if token in grants:
            raise ValueError(f"blotter tokens: a token is given twice (users {grants[token].user!r}, {user!r})")
        grants[token] = grant
    return grants
