"""The composition root: the only place concrete stores and services are built (and closed)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
import psycopg.conninfo
import redis.asyncio as aioredis
import structlog
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.cluster import ClusterNode

from dncgate import calendars, metrics, phone, receipt_keys
from dncgate.config import ConfigError, Settings
from dncgate.domain.case import Deadlines, WorkdayDeadlines
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.embedded import EmbeddedPostgres, EmbeddedRedis
from dncgate.sealing import NumberSealer
from dncgate.service.access import AccessService, Authenticator, NewToken
from dncgate.service.check_rules import CheckRules
from dncgate.service.checks import CheckSettings
from dncgate.service.compensation import CompensationService
from dncgate.service.compensation_ports import WorkdayCalendar
from dncgate.service.gateway import Gateway
from dncgate.service.lines import CallerLineService
from dncgate.service.logins import LoginService, UserRow
from dncgate.service.lookup import LOOKUP, StatusLookup
from dncgate.service.maintenance import MaintenanceReport, PartitionMaintenance
from dncgate.service.notice_ports import NotificationSender
from dncgate.service.notices import NoticeDesk, NoticeLoop, Notifier
from dncgate.service.outcome import OutcomeService
from dncgate.service.payouts import PayoutDesk
from dncgate.service.quotas import SCRUB, STREAMS, Quotas
from dncgate.service.ranges import RangeRuleService
from dncgate.service.receipts import Receipts
from dncgate.service.recorder import Recorder
from dncgate.service.registry import RegistryService
from dncgate.store.bulk import BulkHotWriter
from dncgate.store.calls import CallStream
from dncgate.store.caps import CapSlots
from dncgate.store.cases import CaseStore
from dncgate.store.checklane import CheckLane
from dncgate.store.erasure import ErasureStore
from dncgate.store.evidence import CallEvidence
from dncgate.store.health import StoreProbe
from dncgate.store.hot import HotRegistry
from dncgate.store.journal import Journal
from dncgate.store.ledger import Ledger
from dncgate.store.lines import CallerLineStore
from dncgate.store.migrate import migrate
from dncgate.store.notice_file import JsonlNoticeFile
from dncgate.store.notifications import Outbox
from dncgate.store.operators import OperatorStore
from dncgate.store.outcomes import OutcomeStore
from dncgate.store.partitions import PartitionStore
from dncgate.store.pg import Database
from dncgate.store.policy_rules import PolicyRuleStore
from dncgate.store.quotas import RedisQuotas
from dncgate.store.recorder import CallLogWriter, StreamedCalls, StreamGroup
from dncgate.store.service_report import ServiceReportStore
from dncgate.store.tokens import TokenStore
from dncgate.store.users import UserStore

log = structlog.get_logger("dncgate.bootstrap")


@dataclass(kw_only=True)
class App:
    settings: Settings
    redis: aioredis.Redis
    pool: AsyncConnectionPool[Any]
    hot: HotRegistry
    journal: Journal
    gateway: Gateway
    registry: RegistryService[Journal, HotRegistry]
    redis_url: str
    database_url: str
    outcomes: OutcomeService
    recorder: Recorder
    compensation: CompensationService
    probe: StoreProbe  # readiness: can the registry be read, does PostgreSQL answer
    access: AccessService  # tokens: create, list, revoke, the first admin token
    authenticator: Authenticator  # credentials to principals, cached in-process
    quotas: Quotas  # per-token scrub quota and open-stream cap, counted in Redis
    notices: NoticeDesk  # ListNotifications
    notice_loop: NoticeLoop  # delivers the outbox; run by one process only (where the recorder runs)
    maintenance: PartitionMaintenance  # monthly partitions ahead, past retention dropped (where the recorder runs)
    receipt_key: receipt_keys.PublicKey  # what CallGate.GetReceiptKey returns
    lines: CallerLineService  # RegisterCallerLine, ListCallerLines
    ranges: RangeRuleService  # SetRangeRule, ListRangeRules
    rules_source: PolicyRuleStore  # what the Check path copies of ranges, lines and policies (`check_rules`)
    logins: LoginService  # the console's password logins: a session token per login
    embedded: list[Any] = field(default_factory=list)  # the embedded servers started for this app


def workday_calendar(settings: Settings) -> calendars.Workdays:
    """China's working-day calendar: chinese-calendar's schedules, with DNCGATE_HOLIDAYS_FILE's years over them.

    A bad file is a ConfigError naming the variable (calendars.py's own messages name the file and line).
    """
    try:
        return calendars.load(settings.holidays_file)
    except ConfigError as exc:
        raise ConfigError(f"DNCGATE_HOLIDAYS_FILE: {exc}") from None


def sealer_of(settings: Settings) -> NumberSealer:
    return NumberSealer.from_secrets(settings.payout_key, settings.resolve_pepper())


def notices_file(data_dir: Path) -> Path:
    return data_dir / "notices.jsonl"


def build_notice_sender(settings: Settings) -> NotificationSender:
    """Where consumer notices go: the embedded default writes them to `<data dir>/notices.jsonl`
    (masked). An SMS gateway's adapter, implementing the same `NotificationSender` port, goes here."""
    return JsonlNoticeFile(notices_file(settings.data_dir))


def build_notice_loop(settings: Settings, db: Database, sender: NotificationSender | None = None) -> NoticeLoop:
    return NoticeLoop(
        Outbox(db), sender or build_notice_sender(settings), sealer_of(settings), region=settings.default_region
    )


def build_compensation(
    settings: Settings,
    db: Database,
    hot: HotRegistry,
    journal: Journal,
    keyer: phone.NumberKeyer,
    calendar: WorkdayCalendar,
) -> CompensationService:
    client = hot.client
    cases, evidence = CaseStore(db), CallEvidence(db, client, hot.layout)
    sealer = sealer_of(settings)
    notifier = Notifier(sealer, settings.default_timezone, settings.default_region)
    payouts = PayoutDesk(
        Ledger(db),
        cases,
        evidence,
        notifier,
        currency=settings.compensation.currency,
        zone=settings.default_timezone,
        region=settings.default_region,
    )
    return CompensationService(
        cases,
        evidence,
        journal,
        keyer,
        sealer,
        payouts,
        OperatorStore(db),
        notifier,
        ErasureStore(db),
        amount=settings.compensation,
        deadlines=Deadlines(settings.first_response_hours, settings.resolution_hours),
        calendar=calendar,
        payout_due_workdays=settings.payout_due_workdays,
        update_hours=settings.update_hours,
        revisit_days=settings.revisit_days,
        region=settings.default_region,
        zone=settings.default_timezone,
        workday_deadlines=WorkdayDeadlines(settings.regulator_reply_workdays, settings.major_progress_workdays),
        lookup=StatusLookup(
            cases,
            RedisQuotas(client),
            keyer,
            per_minute=settings.status_lookups_per_minute,
            region=settings.default_region,
            refused=lambda quota: metrics.QUOTA_REFUSALS.labels(quota).inc(),
        ),
        service_figures=ServiceReportStore(db),
        lines=CallerLineStore(db),
    )


def build_quotas(settings: Settings, client: aioredis.Redis) -> Quotas:
    """CallGate's per-token quotas over Redis; each refusal counted in `dncgate_quota_refusals_total`."""
    for quota in (SCRUB, STREAMS, LOOKUP):  # shown at 0 from the start
        metrics.QUOTA_REFUSALS.labels(quota)
    return Quotas(
        RedisQuotas(client),
        scrub_per_hour=settings.scrub_quota_per_hour,
        streams_per_principal=settings.max_streams_per_token,
        refused=lambda quota: metrics.QUOTA_REFUSALS.labels(quota).inc(),
        holder=f"{socket.gethostname()}:{os.getpid()}:",
    )


def receipt_signer(settings: Settings) -> receipt_keys.ReceiptSigner:
    """The receipt key (receipt_keys.py): DNCGATE_RECEIPT_KEY, else derived from DNCGATE_PEPPER, else
    the embedded default's `<data dir>/receipt.key`, generated the first time (owner-only)."""
    try:
        if settings.receipt_key is not None:
            seed = receipt_keys.seed_of(settings.receipt_key)
        elif settings.pepper is not None:
            seed = receipt_keys.derived_seed(settings.pepper)
        else:
            seed = receipt_keys.file_seed(settings.data_dir)
    except receipt_keys.ReceiptKeyError as exc:
        raise ConfigError(f"DNCGATE_RECEIPT_KEY: {exc}") from None
    return receipt_keys.ReceiptSigner(seed)


def build_gateway(
    settings: Settings,
    hot: HotRegistry,
    keyer: phone.NumberKeyer,
    *,
    multiplex: bool = True,
    receipts: Receipts | None = None,
    rules: CheckRules | None = None,
    per_shard: bool = False,
) -> Gateway:
    """The Check use case over its lane to the registry's Redis (`multiplex=False`: redis-py's pool);
    `receipts` None signs for no org; `rules` None: no range, quiet day or caller-line rule;
    `per_shard`: one shard per script call (a Redis Cluster, `hot.client` a cluster client)."""
    timeout_s = settings.redis_timeout_ms / 1000
    return Gateway(
        CheckLane(
            hot,
            CallStream(hot.client, hot.layout),
            timeout_s,
            multiplex=multiplex,
            caps=(settings.cap_per_day, settings.cap_per_week),
            per_shard=per_shard,
        ),
        keyer,
        CheckSettings(
            region=settings.default_region,
            default_zones=(phone.zone(settings.default_timezone),),
            hours=settings.calling_hours,
            default_mode=settings.mode,
            timeout_s=timeout_s,
        ),
        receipts=receipts,
        rules=rules,
    )


def endpoints_file(data_dir: Path) -> Path:
    return data_dir / "endpoints.json"


def record_endpoints(settings: Settings, redis_url: str, database_url: str) -> None:
    """What a running `serve` started or was given, for the local commands run beside it (`registry
    rebuild`, `token create --bootstrap`, ...): the store URLs, whether Redis is a cluster, and whether
    its pepper came from DNCGATE_PEPPER (they must then be given the same) or the data dir."""
    endpoints_file(settings.data_dir).write_text(
        json.dumps(
            {
                "redis_url": redis_url,
                "database_url": database_url,
                "redis_cluster": settings.redis_cluster,
                "pepper": "configured" if settings.pepper is not None else "data dir",
                "pid": os.getpid(),
            }
        )
    )


def beside_running_serve(settings: Settings) -> Settings:
    """A local command's settings, on the stores of the `serve` running over the same data dir (if its
    endpoints file is there and no store URL is set here). Refused when that serve was given its
    pepper and this command is not: keyed with another one, it would write keys nothing ever finds."""
    ep = endpoints_file(settings.data_dir)
    if not ep.exists():
        return settings
    running = json.loads(ep.read_text())
    if running.get("pepper") == "configured" and settings.pepper is None:
        raise ConfigError(
            "DNCGATE_PEPPER must be set: the running serve over this data dir was started with "
            "DNCGATE_PEPPER; run this command with the same value (and its other DNCGATE_* settings)"
        )
    if not settings.embedded:
        return settings
    return dataclasses.replace(
        settings,
        redis_url=running["redis_url"],
        database_url=running["database_url"],
        redis_cluster=bool(running.get("redis_cluster", False)),
    )


def admin_token_file(data_dir: Path) -> Path:
    """Where `serve` writes the admin token it creates, and where client commands look last for one."""
    return data_dir / "admin.token"


def write_admin_token(data_dir: Path, token: str) -> Path:
    """Write `token` to `<data dir>/admin.token`, readable by its owner only (written whole, then renamed)."""
    path = admin_token_file(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".admin.token.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    tmp.chmod(0o600)  # whatever the umask
    tmp.replace(path)
    return path


async def ensure_admin_token(app: App, created_by: str = "bootstrap") -> Path | None:
    """With no live admin token in `api_tokens`, create one and write it to the data dir (logged)."""
    token = await app.access.ensure_admin(created_by)
    if token is None:
        return None
    path = write_admin_token(app.settings.data_dir, token)
    log.info("admin_token_written", path=str(path))
    return path


@contextlib.contextmanager
def store_urls(settings: Settings) -> Any:
    """The Redis and PostgreSQL URLs to use, starting embedded servers for whichever is not set."""
    started: list[Any] = []
    try:
        redis_url = settings.redis_url
        database_url = settings.database_url
        if redis_url is None:
            r = EmbeddedRedis(settings.data_dir / "redis").start()
            started.append(r)
            redis_url = r.url
        if database_url is None:
            p = EmbeddedPostgres(settings.data_dir / "postgres").start()
            started.append(p)
            database_url = p.url
        yield redis_url, database_url, started
    finally:
        for s in reversed(started):
            s.stop()


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """The database of a local command, its name (password masked) and URL: DNCGATE_DATABASE_URL, else the
    embedded PostgreSQL of a running `serve` (its endpoints file), else the embedded one started for the
    time it takes."""
    database_url = settings.database_url
    started: EmbeddedPostgres | None = None
    ep = endpoints_file(settings.data_dir)
    if database_url is None and ep.exists():
        database_url = json.loads(ep.read_text())["database_url"]
    if database_url is None:
        started = EmbeddedPostgres(settings.data_dir / "postgres").start()
        database_url = started.url
    try:
        try:
            conninfo = psycopg.conninfo.conninfo_to_dict(database_url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"DNCGATE_DATABASE_URL: {exc}") from None
        yield f"{conninfo.get('host', 'local socket')}/{conninfo.get('dbname', '')}", database_url
    finally:
        if started is not None:
            started.stop()


async def migrate_only(settings: Settings) -> tuple[str, list[str]]:
    """Apply the schema migrations the database lacks, as `open_app` does first, and nothing else.

    Returns the database it migrated (password masked) and the migrations applied now. Redis is not
    needed, so it is not touched.
    """
    async with _database(settings) as (where, url):
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=30)
        async with conn:
            return where, await migrate(conn)


@contextlib.asynccontextmanager
async def _local_db(
    settings: Settings, migrated: bool = True, connections: int = 1
) -> AsyncIterator[tuple[str, Database]]:
    """The database of a one-shot local command (`_database`) behind a small pool, its schema migrated
    first unless `migrated` is False (maintenance wants the schema as it is); closed on the way out."""
    async with _database(settings) as (where, url):
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=connections, open=False, kwargs={"autocommit": True}
        )
        await pool.open(wait=True, timeout=30)
        async with pool:
            if migrated:
                async with pool.connection() as conn:
                    await migrate(conn)
            yield where, Database(pool, settings.db_timeout_ms / 1000)


async def maintain_once(settings: Settings) -> tuple[str, MaintenanceReport]:
    """One pass of the partition maintenance loop (`dncgate maintenance`): months ahead made, months past
    DNCGATE_CALL_LOG_RETENTION_DAYS dropped. The schema must be migrated; Redis is not touched."""
    async with _local_db(settings, migrated=False, connections=2) as (where, db):
        store = PartitionStore(db)
        return where, await PartitionMaintenance(store, settings.call_log_retention_days).run_once()


async def bootstrap_token(settings: Settings, **grants: Any) -> NewToken:
    """`dncgate token create --bootstrap`: a token written straight into the database, with no server.

    For the first admin token of a deployment on external stores. The schema is migrated first; the
    token is keyed with this process's pepper (DNCGATE_PEPPER), which the servers must share.
    """
    beside_running_serve(settings)  # its pepper, if it was given one
    async with _local_db(settings) as (_, db):
        keyer = phone.NumberKeyer(settings.resolve_pepper())
        await Journal(db).claim_pepper(keyer.fingerprint())  # another deployment's pepper: PepperMismatch
        return await AccessService(TokenStore(db), settings.resolve_pepper()).create("bootstrap", **grants)


def build_logins(settings: Settings, db: Database, access: AccessService) -> LoginService:
    """Console users: argon2 password checks, a session token per login living at most the session's life."""
    return LoginService(UserStore(db), access, settings.console_session_hours * 3600)


async def bootstrap_user(settings: Settings, actor: str, **user: Any) -> UserRow:
    """`dncgate user create`: a console user written straight into the database (that of the running
    `serve`, or DNCGATE_DATABASE_URL), migrated first, as `bootstrap_token` does."""
    beside_running_serve(settings)  # its pepper, if it was given one
    async with _local_db(settings) as (_, db):
        access = AccessService(TokenStore(db), settings.resolve_pepper())
        return await build_logins(settings, db, access).create_user(actor, **user)


def redis_client(url: str, timeout_s: float, cluster: bool = False) -> aioredis.Redis:
    """A client of the registry's Redis; with `cluster`, of a Redis Cluster (redis-py's cluster client:
    slots discovered from the seed nodes of `url`, MOVED and ASK followed, the slot map refreshed on a
    topology change)."""
    if cluster:
        return cluster_client(url, timeout_s)
    return aioredis.Redis.from_url(
        url,
        socket_timeout=max(timeout_s, 1.0),
        socket_connect_timeout=max(timeout_s, 1.0),
        health_check_interval=30,
        max_connections=256,
    )


def cluster_seeds(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The seed nodes of `redis://[user:password@]host:port[,host:port...]` and the connection options
    the URL carries (credentials, `rediss` for TLS); ConfigError naming DNCGATE_REDIS_URL otherwise."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss"):
        raise ConfigError("DNCGATE_REDIS_URL: a Redis Cluster is named redis://host:port[,host:port...]")
    options: dict[str, Any] = {"ssl": scheme == "rediss"}
    userinfo, at, hosts = rest.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        options["username"] = urllib.parse.unquote(user) if colon and user else None
        options["password"] = urllib.parse.unquote(password if colon else user)
    seeds: list[tuple[str, int]] = []
    for part in hosts.rstrip("/").split(","):
        host, colon, port = part.strip().rpartition(":")
        if not colon or not host or not port.isdigit():
            raise ConfigError(f"DNCGATE_REDIS_URL: {part!r} is not host:port")
        seeds.append((host.strip("[]"), int(port)))
    return seeds, options


def cluster_client(url: str, timeout_s: float) -> aioredis.Redis:
    seeds, options = cluster_seeds(url)
    client = aioredis.RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in seeds],
        socket_timeout=max(timeout_s, 1.0),
        socket_connect_timeout=max(timeout_s, 1.0),
        health_check_interval=30,
        max_connections=256,
        **options,
    )
    return cast(aioredis.Redis, client)  # the commands dncgate sends, routed by key


@contextlib.asynccontextmanager
async def open_app(settings: Settings, *, write_endpoints: bool = False) -> AsyncIterator[App]:
    """Start (or connect to) the stores, migrate the schema, and build the services."""
    calendar = workday_calendar(settings)  # a bad holidays file stops start-up before any store is touched
    if settings.redis_cluster and settings.redis_url is None:
        raise ConfigError(
            "DNCGATE_REDIS_CLUSTER=true needs DNCGATE_REDIS_URL: the cluster's nodes (no embedded cluster)"
        )
    with store_urls(settings) as (redis_url, database_url, started):
        if write_endpoints and started:
            record_endpoints(settings, redis_url, database_url)
        cluster = settings.redis_cluster
        client = redis_client(redis_url, settings.redis_timeout_ms / 1000, cluster)
        # The recorder blocks in XREADGROUP for a second at a time: it needs a socket timeout longer than
        # that, which the hot path's client (timed out in milliseconds) must not have.
        recorder_client = redis_client(redis_url, 10.0, cluster)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            database_url, min_size=1, max_size=16, open=False, kwargs={"autocommit": True}
        )
        await pool.open(wait=True, timeout=30)
        db = Database(pool, settings.db_timeout_ms / 1000)  # RPCs wait for PostgreSQL this long at most
        gateway: Gateway | None = None
        quotas: Quotas | None = None
        try:
            async with pool.connection() as conn:
                applied = await migrate(conn)
            if applied:
                log.info("schema_migrated", applied=applied)
            keyer = phone.NumberKeyer(settings.resolve_pepper())
            journal = Journal(db)
            # Before any consumer key is read or written: a journal keyed with another pepper would
            # read every number as never registered (PepperMismatch: `serve` refuses to start).
            await journal.claim_pepper(keyer.fingerprint())
            hot = HotRegistry(client, settings.registry_bucket_bits, keyer.fingerprint(), settings.stream_shards)
            signer = receipt_signer(settings)
            receipts = Receipts(signer)
            # Quiet days: China's public holidays, on the same calendar deadlines are counted on.
            check_rules = CheckRules(calendar.calendar.holidays)
            # On a cluster: one shard per script call, each on its primary's multiplexed connection.
            gateway = build_gateway(settings, hot, keyer, receipts=receipts, rules=check_rules, per_shard=cluster)
            registry = RegistryService(
                journal, hot, keyer, region=settings.default_region, default_mode=settings.mode, bulk=BulkHotWriter(hot)
            )
            org_caps = gateway.org_caps

            def on_policy(org_id: str, policy: OrgPolicyEntry) -> None:
                # This process's Checks signed (or not) and capped by the org's own cap from the next one.
                receipts.set_org(org_id, policy)
                org_caps.set_org(org_id, policy)

            registry.on_policy = on_policy
            outcomes = OutcomeService(OutcomeStore(db), StreamedCalls(client, hot.layout), registry, CapSlots(hot))
            recorder = Recorder(
                StreamGroup(recorder_client, hot.layout.streams, cluster=cluster),
                CallLogWriter(pool),
                settings.recorder_consumer or socket.gethostname(),
                batch=settings.recorder_batch,
            )
            tokens = TokenStore(db)
            access = AccessService(tokens, settings.resolve_pepper())
            authenticator = Authenticator(tokens, settings.resolve_pepper())
            access.on_change = authenticator.forget  # a revocation here is refused here at once
            quotas = build_quotas(settings, client)
            yield App(
                settings=settings,
                redis=client,
                pool=pool,
                hot=hot,
                journal=journal,
                gateway=gateway,
                registry=registry,
                redis_url=redis_url,
                database_url=database_url,
                outcomes=outcomes,
                recorder=recorder,
                compensation=build_compensation(settings, db, hot, journal, keyer, calendar),
                probe=StoreProbe(hot, pool, max(settings.redis_timeout_ms / 1000, 0.5)),
                access=access,
                authenticator=authenticator,
                quotas=quotas,
                notices=NoticeDesk(Outbox(db)),
                notice_loop=build_notice_loop(settings, db),
                maintenance=PartitionMaintenance(PartitionStore(db), settings.call_log_retention_days),
                receipt_key=signer.public,
                lines=CallerLineService(CallerLineStore(db), region=settings.default_region),
                ranges=RangeRuleService(PolicyRuleStore(db)),
                rules_source=PolicyRuleStore(db),
                logins=build_logins(settings, db, access),
                embedded=started,
            )
        finally:
            if quotas is not None:  # the leases of streams still open given back, before the client closes
                await quotas.aclose()
            if gateway is not None:
                await gateway.aclose()
            await pool.close()
            await recorder_client.aclose()
            await client.aclose()
            if write_endpoints and started:
                endpoints_file(settings.data_dir).unlink(missing_ok=True)
