"""The configuration of one FIX venue: session identity, where to connect, and the venue's dialect.

`FixVenueConfig` is a frozen pydantic model: the OMS's name for the venue, the
FIX session (SenderCompID, TargetCompID, host, port, heartbeat, reconnect
interval, ResetOnLogon), the data directory (QuickFIX file store and logs,
the ClOrdID map), the data dictionary, and the venue-specific mapping of
messages: the tag that carries the account and the account names, the symbol
of each instrument, HandlInst, and extra tags per message type. `load` reads one
from a TOML or JSON file; `render_settings` turns it into the QuickFIX session
settings text.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["FixVenueConfig", "MESSAGE_TYPES", "render_settings"]

MESSAGE_TYPES = {"D": "NewOrderSingle", "G": "OrderCancelReplaceRequest", "F": "OrderCancelRequest",
                 "H": "OrderStatusRequest", "AF": "OrderMassStatusRequest"}
"""The application messages the adapter sends (MsgType -> name); `extra_tags` is keyed by MsgType."""

_COMP_ID = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"


class FixVenueConfig(BaseModel):
    """One FIX 4.4 venue as the OMS's initiator sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]{0,39}$")
    """The OMS's name of the venue (`VenueRequest.venue`, `ExecutionReport.venue`)."""
    sender_comp_id: str = Field(pattern=_COMP_ID)
    target_comp_id: str = Field(pattern=_COMP_ID)
    host: str = "127.0.0.1"
    port: int = Field(gt=0, lt=65536)
    data_dir: Path
    """QuickFIX file store (`store/`), logs (`log/`), the ClOrdID map (`orders.sqlite`)."""
    data_dictionary: Path | None = None
    """`FIX44.xml`; None: the one from the QuickFIX/J jars in `cache_dir` (`connectors.quickfixj`)."""
    cache_dir: Path | None = None
    """Where the QuickFIX/J jars are (only used when `data_dictionary` is None)."""
    heartbeat: int = Field(default=30, gt=0)
    """HeartBtInt, seconds."""
    reconnect_interval: int = Field(default=5, gt=0)
    """Seconds between two connection attempts."""
    logon_timeout: int = Field(default=10, gt=0)
    reset_on_logon: bool = False
    """ResetOnLogon: both sides start at sequence number 1 on every logon (venues with memory stores)."""
    resend_window_s: float = Field(default=2.0, ge=0)
    """A request of ours the venue asks for again (ResendRequest) is resent, PossDupFlag=Y, only if it
    was first sent less than this many seconds ago; older ones are gap-filled: a stale order must not
    reach the market late (in-flight tracking and reconciliation find out what the venue has)."""
    file_log: bool = True
    """Write the FIX message and event logs to `data_dir/log`."""
    account_tag: int = Field(default=1, gt=0)
    """The tag that carries the account (FIX Account = 1; some venues use another)."""
    accounts: dict[str, str] = Field(default_factory=dict)
    """OMS account -> the venue's account name (unlisted accounts are sent as they are)."""
    symbols: dict[str, str] = Field(default_factory=dict)
    """OMS instrument -> the venue's Symbol (unlisted instruments are sent as they are)."""
    handl_inst: str | None = "1"
    """HandlInst (21) on NewOrderSingle and OrderCancelReplaceRequest; None: not sent."""
    extra_tags: dict[str, dict[int, str]] = Field(default_factory=dict)
    """Extra tags per MsgType ("D", "G", "F", "H", "AF"), e.g. {"D": {100: "XNAS"}}."""

    @field_validator("extra_tags")
    @classmethod
    def _known_types(cls, value: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
        unknown = set(value) - set(MESSAGE_TYPES)
        if unknown:
            raise ValueError(f"extra_tags: unknown MsgType {sorted(unknown)}; known: {sorted(MESSAGE_TYPES)}")
        return value

    @field_validator("symbols", "accounts")
    @classmethod
    def _one_to_one(cls, value: dict[str, str]) -> dict[str, str]:
        if len(set(value.values())) != len(value):
            raise ValueError("two OMS names map to one venue name; the mapping must be one to one")
        return value

    @classmethod
    def load(cls, path: Path, *, data_root: Path | None = None, cache_dir: Path | None = None,
             **overrides) -> "FixVenueConfig":
        """A configuration from a TOML or JSON file (by suffix), `overrides` applied over it. When the
        file sets no `data_dir`, `data_root / <venue>` is used; when it sets neither `cache_dir` nor
        `data_dictionary`, `cache_dir` is used (the entry point passes `$OMS_HOME/fix` and `OMS_CACHE_DIR`)."""
        path = Path(path)
        if path.suffix not in (".toml", ".json"):
            raise ValueError(f"{path}: a FIX venue configuration is a .toml or .json file")
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a table of settings")
        data = {**data, **overrides}
        if data_root is not None and "data_dir" not in data and isinstance(data.get("venue"), str):
            data["data_dir"] = Path(data_root) / data["venue"]
        if cache_dir is not None and data.get("cache_dir") is None and data.get("data_dictionary") is None:
            data["cache_dir"] = cache_dir
        return cls.model_validate(data)

    def venue_symbol(self, instrument: str) -> str:
        return self.symbols.get(instrument, instrument)

    def instrument(self, symbol: str) -> str:
        for instrument, mapped in self.symbols.items():
            if mapped == symbol:
                return instrument
        return symbol

    def venue_account(self, account: str) -> str:
        return self.accounts.get(account, account)

    def oms_account(self, venue_account: str) -> str:
        for account, mapped in self.accounts.items():
            if mapped == venue_account:
                return account
        return venue_account


def render_settings(config: FixVenueConfig, dictionary: Path) -> str:
    """The QuickFIX settings of the one initiator session `config` describes."""
    data_dir = Path(config.data_dir).absolute()
    log = f"FileLogPath={data_dir / 'log'}\n" if config.file_log else ""
    return f"""\
# Written by connectors/fix on every start; edits are overwritten.
[DEFAULT]
ConnectionType=initiator
FileStorePath={data_dir / 'store'}
{log}StartTime=00:00:00
EndTime=00:00:00
ReconnectInterval={config.reconnect_interval}
LogonTimeout={config.logon_timeout}
HeartBtInt={config.heartbeat}
ResetOnLogon={'Y' if config.reset_on_logon else 'N'}
UseDataDictionary=Y
DataDictionary={dictionary}
ValidateUserDefinedFields=N
AllowUnknownMsgFields=Y
ValidateFieldsOutOfOrder=N
SocketNodelay=Y

[SESSION]
BeginString=FIX.4.4
SenderCompID={config.sender_comp_id}
TargetCompID={config.target_comp_id}
SocketConnectHost={config.host}
SocketConnectPort={config.port}
"""
