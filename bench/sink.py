"""An SMTP server for the sending benches, run in a process of its own.

    python -m bench.sink --port 2525 --delay 0.02 --log received.tsv

aiosmtpd on 127.0.0.1 that accepts every message, waits `--delay` seconds
before its 250 reply to DATA (asyncio.sleep: the many connections it serves
wait at the same time, as a real relay's would), and appends one line per
accepted recipient to `--log`: the time it accepted, the address and the
message's Message-ID. The line is written before the 250 goes out, so a
sender that saw the reply always finds its message in the log. Being a
separate process, its CPU is not taken from the sender's interpreter.
`Sink` starts one and reads its log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from testkit.net import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Recorder:
    """Accepts everything after `delay` seconds; one line per recipient, before the reply."""

    def __init__(self, delay: float, log: Path) -> None:
        self.delay = delay
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        message_id = found.group(1).decode("ascii", "replace") if found else "-"
        stamp = f"{time.time():.6f}"
        lines = "".join(f"{stamp}\t{rcpt}\t{message_id}\n" for rcpt in envelope.rcpt_tos)
        os.write(self.fd, lines.encode())  # one write: lines of two messages never mix
        return "250 2.0.0 queued"


@dataclass(frozen=True)
class Received:
    at: float
    address: str
    message_id: str


class Sink:
    """The sink in a subprocess; `received()` reads what it accepted so far."""

    def __init__(self, folder: Path, delay: float) -> None:
        self.port = free_port()
        self.log = folder / f"sink-{self.port}.tsv"
        self.log.touch()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(self.port), "--delay", str(delay),
             "--log", str(self.log)],
        )  # fmt: skip
        self._read = 0
        self._records: list[Received] = []
        _wait_port(self.port)

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait()

    def received(self) -> list[Received]:
        """Every accepted (time, address, Message-ID), read incrementally."""
        with self.log.open("rb") as handle:
            handle.seek(self._read)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        self._read += end
        for line in data[:end].decode().splitlines():
            at, address, message_id = line.split("\t")
            self._records.append(Received(float(at), address, message_id))
        return self._records

    def count(self) -> int:
        return len(self.received())


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the SMTP sink on port {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    controller = Controller(
        Recorder(args.delay, args.log), hostname="127.0.0.1", port=args.port, ready_timeout=20
    )
    controller.start()
    try:
        done.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
