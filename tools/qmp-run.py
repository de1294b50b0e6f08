#!/usr/bin/env python3
"""Runs QEMU and drives its monitor (QMP) on cue from the guest's serial log.

    tools/qmp-run.py --timeout SECONDS --dir SCRATCH -- QEMU-COMMAND...

QEMU's serial console must go to its standard output (moat's runner uses a stdio chardev). Every
line is copied to our standard output as it arrives. A line that starts with

    moat-qmp: VERB ARGS...

is a cue: the runner sends the command to QEMU's monitor over a unix socket inside SCRATCH (one
per run, so parallel runs under ctest -j never share one) and goes on copying the log. The
guest learns the outcome only from what it can observe (a slot's presence bit, a device that
answers or stops answering), as it would on a real machine; the runner reports each command and
its answer on standard error, prefixed "moat-qmp-runner:".

Verbs (a short list on purpose: a cue cannot stop, migrate or quit the machine):
    device_add DRIVER,PROP=VALUE,...   as QEMU's -device option
    device_del ID
    drive_add / drive_del / block_set_io_throttle / qom-set ARGS   HMP syntax
Every wait is bounded: connecting, each answer (--answer-timeout, default 30 s) and the whole
run (--timeout; on expiry QEMU is stopped and the exit status is 124, like timeout(1)).
The exit status is otherwise QEMU's.
"""

import argparse
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

CUE = re.compile(rb"^moat-qmp: ([a-z_-]+)(?: (.*))?$")
HMP_VERBS = {"device_add", "device_del", "drive_add", "drive_del", "block_set_io_throttle",
             "qom-set"}


def note(msg):
    sys.stderr.write("moat-qmp-runner: %s\n" % msg)
    sys.stderr.flush()


class Monitor:
    """One QMP connection; every receive is bounded by the socket's timeout."""

    def __init__(self, path, answer_timeout):
        self.path = path
        self.timeout = answer_timeout
        self.sock = None
        self.buf = b""
        self.deleting = set()       # device_del answered, DEVICE_DELETED not seen yet

    def connect(self, deadline):
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(self.timeout)
                s.connect(self.path)
                self.sock = s
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.receive()                         # the greeting
        self.execute("qmp_capabilities")

    def receive(self):
        """The next message that is not an event (events are reported and skipped)."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("QEMU closed the monitor")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if "event" in msg:
                note("event %s %s" % (msg["event"], json.dumps(msg.get("data", {}))))
                if msg["event"] == "DEVICE_DELETED":
                    self.deleting.discard(msg.get("data", {}).get("device"))
                continue
            return msg

    def settle(self):
        """QEMU finishes a deletion after the guest has let go of the device (for a PCIe slot:
        after the guest powered it off), and only then are its backends (a disk's node) free
        for another device: before adding anything, wait for those DEVICE_DELETED events
        (not before a device_del: a second press of the attention button must reach the
        guest while the first one's removal is pending)."""
        deadline = time.monotonic() + self.timeout
        while self.deleting and time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.execute("query-status")   # answers after every event queued before it
            except socket.timeout:
                break
            if self.deleting:
                time.sleep(0.05)
        self.sock.settimeout(self.timeout)
        if self.deleting:
            note("still no DEVICE_DELETED for %s" % ", ".join(sorted(self.deleting)))

    def execute(self, command, arguments=None):
        req = {"execute": command}
        if arguments is not None:
            req["arguments"] = arguments
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        return self.receive()


def run_cue(mon, verb, args, deadline):
    if verb not in HMP_VERBS:
        note("refused cue '%s': not one of %s" % (verb, ", ".join(sorted(HMP_VERBS))))
        return
    if mon.sock is None:
        mon.connect(deadline)
    if verb in ("device_add", "drive_add"):
        mon.settle()
    line = verb + (" " + args if args else "")
    answer = mon.execute("human-monitor-command", {"command-line": line})
    # HMP reports a failed command in its text ("Error: ..."), not as a QMP error.
    text = answer.get("return", "").strip() if "error" not in answer else \
        "Error: %s" % answer["error"].get("desc", answer["error"])
    if text.startswith("Error"):
        note("%s -> error: %s" % (line, text[len("Error"):].lstrip(": ")))
        return
    note("%s -> %s" % (line, text or "ok"))
    if verb == "device_del":
        mon.deleting.add(args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--dir", required=True, help="scratch directory for the monitor socket")
    ap.add_argument("--answer-timeout", type=float, default=30.0)
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    opt = ap.parse_args()
    cmd = opt.qemu[1:] if opt.qemu and opt.qemu[0] == "--" else opt.qemu
    if not cmd:
        ap.error("no QEMU command after --")
    path = os.path.join(opt.dir, "qmp.sock")
    if len(path.encode()) >= 108:
        ap.error("socket path too long for a unix socket: %s" % path)
    cmd = cmd + ["-qmp", "unix:%s,server=on,wait=off" % path]

    deadline = time.monotonic() + opt.timeout
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    mon = Monitor(path, opt.answer_timeout)
    out = sys.stdout.buffer
    pending = b""
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([qemu.stdout], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(qemu.stdout.fileno(), 65536)
        if not chunk:
            break
        out.write(chunk)
        out.flush()
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            m = CUE.match(line.rstrip(b"\r"))
            if not m:
                continue
            try:
                run_cue(mon, m.group(1).decode(), (m.group(2) or b"").decode().strip(), deadline)
            except (OSError, ValueError, ConnectionError) as e:
                note("cue '%s' failed: %s" % (line.decode(errors="replace"), e))
    if timed_out:
        qemu.send_signal(signal.SIGTERM)
        try:
            qemu.wait(5)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()
        return 124
    try:
        return qemu.wait(10)
    except subprocess.TimeoutExpired:
        qemu.kill()
        qemu.wait()
        return 124


if __name__ == "__main__":
    sys.exit(main())
