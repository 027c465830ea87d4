"""Kamailio with integrations/kamailio/kamailio.cfg and SIPp as agent and carrier, as processes on loopback.

The SIP-edge test and its benchmark share this. The proxy is set up the way the operator README says: the
cfg copied as it ships, and a `dncgate-local.cfg` of `#!define` lines next to it (the token among them).
Every wait is bounded and polls: the proxy is up once it answers an OPTIONS, the carrier once its UDP
port is taken. SIPp's message trace (`-trace_msg`) is what the caller and the carrier saw.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KAMAILIO_DIR = REPO / "integrations" / "kamailio"
CFG = KAMAILIO_DIR / "kamailio.cfg"
AGENT = KAMAILIO_DIR / "sipp" / "agent.xml"
CARRIER = KAMAILIO_DIR / "sipp" / "carrier.xml"
TOOLS = ("kamailio", "sipp")
# The one line of request_route that asks dncgate, and the one of the timer that reports outcomes.
GATE_LINE = "\troute(DNC_GATE);\n"
REPORT_LINE = "\t\troute(DNC_REPORT);\n"


def missing_tools() -> list[str]:
    """Which of kamailio and sipp are not on PATH (kamailio is in /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [t for t in TOOLS if shutil.which(t, path=path) is None]


def tool(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise RuntimeError(
            f"{name} is not installed (apt-get install kamailio kamailio-utils-modules "
            "kamailio-json-modules sip-tester)"
        )
    return found


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait(predicate: Callable[[], bool], within_s: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"gave up waiting for {what} (exit code {proc.poll()}):\n{tail}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL past `timeout_s`: this process only (kamailio's children follow their main)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def string(value: str) -> str:
    """A #!define value that is a cfg string."""
    if '"' in value or "\\" in value or "\n" in value:
        raise ValueError(f"not a plain cfg string: {value!r}")
    return f'"{value}"'


def local_defines(url: str, token: str, listen_port: int, next_hop_port: int, **more: str) -> dict[str, str]:
    """The `dncgate-local.cfg` an operator writes, for a proxy on loopback: listen address, dncgate's URL,
    the proxy's token and the carrier (more: other #!define names, values as cfg text)."""
    return {
        "DNC_LISTEN": f"udp:127.0.0.1:{listen_port}",
        "DNC_URL": string(url),
        "DNC_TOKEN": string(token),
        "DNC_NEXT_HOP": string(f"sip:127.0.0.1:{next_hop_port}"),
        **more,
    }


def ungated(cfg: str) -> str:
    """The same proxy relaying without asking: the gate's line in request_route becomes a relay with a
    made-up call id, and the outcome timer posts nothing. For measuring what the gate adds, never shipped."""
    if cfg.count(GATE_LINE) != 1 or cfg.count(REPORT_LINE) != 1:
        raise RuntimeError("kamailio.cfg changed: its gate or report line is not there once")
    relay = '\troute(DNC_FIELDS);\n\t$var(call_id) = "' + "0" * 32 + '";\n\troute(DNC_RELAY);\n'
    return cfg.replace(GATE_LINE, relay).replace(REPORT_LINE, "\t\t$var(skipped) = 1;\n")


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def _options(port: int, timeout_s: float = 0.2) -> bool:
    """Whether the proxy on `port` answers an OPTIONS to itself with 200."""
    tag = secrets.token_hex(4)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout_s)
        me = s.getsockname()[1]
        request = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{tag}\r\n"
            f"From: <sip:probe@127.0.0.1:{me}>;tag={tag}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        s.sendto(request.encode(), ("127.0.0.1", port))
        try:
            answer = s.recv(65535)
        except OSError:
            return False
    return answer.startswith(b"SIP/2.0 200")


@contextlib.contextmanager
def proxy(
    directory: Path, defines: Mapping[str, str], *, gate: bool = True, sources: str = "", within_s: float = 30.0
) -> Iterator[Proxy]:
    """Kamailio in the foreground on `defines["DNC_LISTEN"]`'s port, with the shipped cfg (or, `gate=False`,
    its ungated copy), `defines` as dncgate-local.cfg beside it and `sources` (cfg text) as
    dncgate-sources.cfg when given; its log in <directory>/kamailio.log."""
    directory.mkdir(parents=True, exist_ok=True)
    cfg = CFG.read_text()
    (directory / "kamailio.cfg").write_text(cfg if gate else ungated(cfg))
    local = directory / "dncgate-local.cfg"
    local.write_text("".join(f"#!define {k} {v}\n" for k, v in defines.items()))
    local.chmod(0o600)
    if sources:
        (directory / "dncgate-sources.cfg").write_text(sources)
    port = int(defines["DNC_LISTEN"].rsplit(":", 1)[1])
    log = directory / "kamailio.log"
    with log.open("wb") as out:
        # -DD: no daemon, -E: log to stderr, -Y: its runtime files here rather than /run/kamailio.
        argv = [tool("kamailio"), "-DD", "-E", "-Y", str(directory), "-f", str(directory / "kamailio.cfg")]
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait(lambda: _options(port), within_s, "Kamailio to answer OPTIONS", proc, log)
        yield Proxy(port, proc, log)
    finally:
        _stop(proc)


@dataclass
class SipMessage:
    """One message as SIPp's trace shows it: the first line and the headers (names lowercased)."""

    first_line: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def status(self) -> int | None:
        parts = self.first_line.split(" ", 2)
        return int(parts[1]) if parts[0] == "SIP/2.0" and len(parts) > 1 and parts[1].isdigit() else None

    @property
    def method(self) -> str | None:
        return None if self.first_line.startswith("SIP/2.0") else self.first_line.split(" ", 1)[0]


@dataclass
class Traced:
    """A message in SIPp's trace: when (seconds since the epoch, to the µs), which way, and the message."""

    at: float
    incoming: bool
    message: SipMessage


def traced(trace: Path) -> list[Traced]:
    """Every message of a SIPp `-trace_msg` file, in order."""
    if not trace.exists():
        return []
    out: list[Traced] = []
    at, incoming = 0.0, False
    block: list[str] = []

    def flush() -> None:
        lines = [line for line in block[1:] if line.strip()]  # block[0]: "UDP message sent/received ..."
        if lines:
            message = SipMessage(lines[0].strip())
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    message.headers.setdefault(name.strip().lower(), []).append(value.strip())
            out.append(Traced(at, incoming, message))

    for line in trace.read_text(errors="replace").splitlines():
        if line.startswith("----------"):
            flush()
            stamp = line.strip("- ")
            at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp() if stamp else 0.0
            block, incoming = [], False
        else:
            if not block:
                incoming = " message received " in line
            block.append(line)
    flush()
    return out


def received(trace: Path) -> list[SipMessage]:
    """The messages SIPp's `-trace_msg` file says it received, in order."""
    return [t.message for t in traced(trace) if t.incoming]


def answer_times_ms(trace: Path) -> list[float]:
    """Per call of an agent's trace: milliseconds from its (first) INVITE sent to its final answer."""
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    for t in traced(trace):
        call = t.message.header("Call-ID") or ""
        cseq = t.message.header("CSeq") or ""
        if not t.incoming and t.message.method == "INVITE":
            sent.setdefault(call, t.at)
        elif t.incoming and (t.message.status or 0) >= 200 and cseq.endswith("INVITE"):
            answered.setdefault(call, t.at)
    return [(answered[c] - sent[c]) * 1000 for c in sent if c in answered]


@dataclass
class Carrier:
    port: int
    process: subprocess.Popen[bytes]
    trace: Path

    def invites(self) -> list[SipMessage]:
        """The INVITEs that reached the carrier so far."""
        return [m for m in received(self.trace) if m.method == "INVITE"]


@contextlib.contextmanager
def carrier(directory: Path, *, within_s: float = 15.0) -> Iterator[Carrier]:
    """A SIPp UAS on a free UDP port that answers every INVITE with 200 and every BYE with 200."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_udp_port()
    trace, log = directory / "carrier_messages.log", directory / "carrier.out"
    argv = [
        tool("sipp"),
        "-sf",
        str(CARRIER),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(trace),
        "-trace_err",
        "-error_file",
        str(directory / "carrier_errors.log"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory)
    try:
        _wait(lambda: udp_port_taken(port), within_s, "the SIPp carrier to bind its port", proc, log)
        yield Carrier(port, proc, trace)
    finally:
        _stop(proc)


@dataclass
class AgentRun:
    returncode: int
    responses: list[SipMessage]  # every response the agent received, in order
    output: str
    answer_ms: list[float]  # per call, INVITE sent to final answer received (from the trace, to the µs)

    def finals(self) -> list[SipMessage]:
        return [m for m in self.responses if (m.status or 0) >= 200]


def agent(
    directory: Path,
    proxy_port: int,
    keys: Mapping[str, str],
    *,
    calls: int = 1,
    rate: float | None = None,
    hold_ms: int = 1000,
    trace: bool = True,
    timeout_s: float = 30.0,
) -> AgentRun:
    """SIPp as the agent: `calls` calls through the proxy (at `rate` calls/s), each INVITE with `keys`
    (caller, asserted (the P-Asserted-Identity; by default the caller), callee, org, agent, campaign,
    category); a 200 is held `hold_ms` and hung up."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"agent-{secrets.token_hex(3)}"
    messages = directory / f"{name}_messages.log"
    argv = [
        tool("sipp"),
        f"127.0.0.1:{proxy_port}",
        "-sf",
        str(AGENT),
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-m",
        str(calls),
        "-d",
        str(hold_ms),
        "-nostdin",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-recv_timeout",
        "10s",
        "-trace_err",
        "-error_file",
        str(directory / f"{name}_errors.log"),
    ]
    if trace:
        argv += ["-trace_msg", "-message_file", str(messages)]
    if rate is not None:
        argv += ["-r", f"{rate:g}", "-l", str(max(calls, 1))]
    for key, value in ({"asserted": keys.get("caller", "")} | dict(keys)).items():
        argv += ["-key", key, value]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 15, cwd=directory, check=False)
    if not trace:
        return AgentRun(run.returncode, [], run.stdout + run.stderr, [])
    return AgentRun(run.returncode, received(messages), run.stdout + run.stderr, answer_times_ms(messages))
