#!/usr/bin/env python3
"""QEMU's side of bench_migrate's table: one live migration, one CSV row.

Starts a destination QEMU (``-incoming unix:PATH``) and a source QEMU, each
with a QMP unix socket, from the same VM arguments (everything after ``--``).
After ``--warmup`` seconds it sets ``downtime-limit`` (and ``max-bandwidth``
if given) with ``migrate-set-parameters``, issues ``migrate`` to the
destination's socket, polls ``query-migrate`` until the migration completed
or failed, quits both QEMUs and appends one row to ``--csv`` in the columns
bench_migrate writes (the header is written when the file is new or empty)::

    tool,workload,wss_pages,dirty_pages_per_s,link_bytes_per_s,
    max_bandwidth_bytes_per_s,rounds,total_ms,transferred_bytes,downtime_ms,
    ideal_bytes,ideal_total_ms,ideal_downtime_ms,bytes_ratio,total_ratio,
    downtime_ratio

with tool=qemu.  The figures come from ``query-migrate``:

* total_ms = ``total-time``; downtime_ms = ``downtime``;
  transferred_bytes = ``ram.transferred`` (RAM pages and their headers:
  device state is not in it, while bench_migrate's figure is every stream
  byte);
* rounds = ``ram.dirty-sync-count``: bitmap syncs, the one at set-up and the
  final one included, so it can be one more than bench_migrate's rounds;
* dirty_pages_per_s = the mean of the non-zero ``ram.dirty-pages-rate``
  values seen while the migration was active (QEMU reports the rate of the
  last sync period, and stops reporting it once completed).

The ideals use the link bandwidth given with ``--link-bytes-per-s`` (run
bench_migrate on the same machine and take its link_bytes_per_s, which is
the measured link, cap or no cap) and QEMU's ``max-bandwidth`` as read back
with ``query-migrate-parameters`` (written as max_bandwidth_bytes_per_s),
as bench_migrate does: QEMU paces its pre-copy passes to the cap but lifts
it for the final stage (the guest stopped), and so does dirtyscope's
engine.  So ideal_total_ms uses min(max-bandwidth, link) and
ideal_downtime_ms uses the link alone.

The ideals are approximations, because QEMU does not report pages re-dirtied
after their first copy:

* ideal_bytes = ``ram.normal`` x ``ram.page-size``, the non-zero pages QEMU
  sent.  ``ram.normal`` counts every non-zero page sent, re-sends included,
  so this is at least bench_migrate's ideal (non-zero RAM plus each page
  dirtied after its first copy, once).  QEMU's bytes ratio is therefore a
  lower bound, flattering QEMU: it shows the framing and zero-page overhead,
  not the cost of re-sending.  The non-zero pages of the first pass
  (``ram.normal`` when ``dirty-sync-count`` first reached 2, sampled by the
  poll) are printed too, as a lower bound of the ideal.
* ideal_downtime_ms = the last ``ram.remaining`` seen while active, over the
  link: the bytes QEMU still had to send when it last reported, which
  approximates its final stage (the poll interval bounds the error).

Run it with a guest whose dirty rate matches the bench_migrate row it is to
sit beside (see bench/README.md: the dirtyscope guest boots only under
dirtyscope's VMM).  Example::

    python3 bench/qemu_migrate.py --qemu qemu-system-x86_64 \\
        --link-bytes-per-s 3300000000 --wss 2048 --csv results.csv -- \\
        -machine q35,accel=kvm -m 256M -display none \\
        -kernel bzImage -initrd initrd.img -append "console=ttyS0"

Python 3 standard library only.  Exit status: 0 when the migration
completed, 1 when it failed, 2 for a usage or start-up error.
"""

import argparse
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

COLUMNS = [
    "tool", "workload", "wss_pages", "dirty_pages_per_s", "link_bytes_per_s",
    "max_bandwidth_bytes_per_s", "rounds", "total_ms", "transferred_bytes", "downtime_ms", "ideal_bytes",
    "ideal_total_ms", "ideal_downtime_ms", "bytes_ratio", "total_ratio",
    "downtime_ratio",
]


class QMPError(Exception):
    """A QMP command answered with an error, or the connection failed."""


class QMP:
    """A minimal QMP client over a unix socket.

    QEMU sends one JSON object per line: the greeting first, then a
    ``return`` or ``error`` for every command, and asynchronous events
    (``{"event": ...}``) at any time, which are skipped here.
    """

    def __init__(self, path, timeout, proc=None):
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except OSError as e:
                sock.close()
                # QEMU creates the socket once it has parsed its options.
                if proc is not None and proc.poll() is not None:
                    raise QMPError(f"QEMU exited with status {proc.returncode} "
                                   f"before its QMP socket {path} was up") from e
                if time.monotonic() > deadline:
                    raise QMPError(f"QMP socket {path}: {e}") from e
                time.sleep(0.05)
        sock.settimeout(timeout)
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.ids = itertools.count(1)
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"QMP socket {path}: no greeting, got {greeting!r}")
        self.version = greeting["QMP"].get("version", {}).get("qemu", {})
        # Leave capabilities negotiation mode: commands work after this.
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.rfile.readline()
        if not line:
            raise QMPError("QEMU closed the QMP connection")
        try:
            return json.loads(line)
        except ValueError as e:
            raise QMPError(f"QMP: not JSON: {line!r}") from e

    def execute(self, command, **arguments):
        """Run one command and return its ``return`` value."""
        cmd_id = next(self.ids)
        msg = {"execute": command, "id": cmd_id}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            resp = self._read()
            if "event" in resp:
                continue  # asynchronous: not the answer
            if resp.get("id") != cmd_id:
                continue  # an answer to something else (should not happen)
            if "error" in resp:
                err = resp["error"]
                raise QMPError(f"{command}: {err.get('class')}: {err.get('desc')}")
            return resp.get("return")

    def close(self):
        try:
            self.rfile.close()
        finally:
            self.sock.close()


def start_qemu(qemu, vm_args, qmp_path, log_path, incoming=None):
    argv = [qemu] + vm_args + ["-qmp", f"unix:{qmp_path},server=on,wait=off"]
    if incoming:
        argv += ["-incoming", incoming]
    log = open(log_path, "wb")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    finally:
        log.close()
    return proc


def stop_qemu(proc, qmp):
    """Quit through QMP if we can, then make sure the process is gone."""
    if qmp is not None:
        try:
            qmp.execute("quit")
        except (QMPError, OSError):
            pass
        qmp.close()
    if proc is None:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ratio(a, b):
    return f"{a / b:.3f}" if b else ""


def append_row(path, row):
    header = ",".join(COLUMNS)
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path) as f:
            first = f.readline().strip()
        if first != header:
            sys.exit(f"qemu_migrate: {path}: its header is not bench_migrate's:\n"
                     f"  {first}\n  {header}")
    with open(path, "a") as f:
        if new:
            f.write(header + "\n")
        f.write(",".join(str(row[c]) for c in COLUMNS) + "\n")


def migrate(args, src_qmp, poll):
    """Set the parameters, migrate, poll until done.

    Returns the last query-migrate, what the polls saw while the migration
    was active, and the parameters as QEMU took them.
    """
    params = {"downtime-limit": args.downtime_limit}
    if args.max_bandwidth:
        params["max-bandwidth"] = args.max_bandwidth
    src_qmp.execute("migrate-set-parameters", **params)
    effective = src_qmp.execute("query-migrate-parameters")

    seen = {"rates": [], "remaining": None, "first_pass_normal": None}
    src_qmp.execute("migrate", uri=f"unix:{args.mig_sock}")
    deadline = time.monotonic() + args.timeout
    while True:
        info = src_qmp.execute("query-migrate")
        status = info.get("status")
        if status in ("completed", "failed", "cancelled"):
            return info, seen, effective
        ram = info.get("ram") or {}
        if status == "active" and ram:
            rate = ram.get("dirty-pages-rate", 0)
            if rate:
                seen["rates"].append(rate)
            if "remaining" in ram:
                seen["remaining"] = ram["remaining"]
            if seen["first_pass_normal"] is None and ram.get("dirty-sync-count", 0) >= 2:
                seen["first_pass_normal"] = ram.get("normal", 0)
        if time.monotonic() > deadline:
            src_qmp.execute("migrate_cancel")
            raise QMPError(f"no completion within {args.timeout} s (status {status})")
        time.sleep(poll)


def main():
    ap = argparse.ArgumentParser(
        description="Migrate a QEMU guest over a unix socket and append one row "
                    "to bench_migrate's CSV (tool=qemu).",
        epilog="VM arguments go after --, e.g.: -- -machine q35,accel=kvm -m 256M "
               "-display none -kernel bzImage")
    ap.add_argument("--qemu", required=True, help="the QEMU binary, e.g. qemu-system-x86_64")
    ap.add_argument("--link-bytes-per-s", type=float, required=True,
                    help="the link's bandwidth, as bench_migrate measured it on this machine")
    ap.add_argument("--csv", help="append the row here (default: print it)")
    ap.add_argument("--warmup", type=float, default=5.0,
                    help="seconds the source guest runs before the migration (default 5)")
    ap.add_argument("--downtime-limit", type=int, default=300,
                    help="migrate-set-parameters downtime-limit, ms (default 300)")
    ap.add_argument("--max-bandwidth", type=int,
                    help="migrate-set-parameters max-bandwidth, bytes/s "
                         "(default: QEMU's own default)")
    ap.add_argument("--workload", default="guest", help="the CSV's workload label")
    ap.add_argument("--wss", default="", help="the CSV's wss_pages, to match a bench_migrate row")
    ap.add_argument("--timeout", type=float, default=600,
                    help="give up on a migration after this many seconds (default 600)")
    ap.add_argument("--poll", type=float, default=0.05,
                    help="query-migrate interval, seconds (default 0.05)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the directory with the sockets and the QEMU logs")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the two QEMU command lines and exit")
    ap.add_argument("vm_args", nargs=argparse.REMAINDER,
                    help="-- then the VM's QEMU arguments, the same for both ends")
    args = ap.parse_args()

    vm_args = args.vm_args[1:] if args.vm_args[:1] == ["--"] else args.vm_args
    if args.link_bytes_per_s <= 0:
        ap.error("--link-bytes-per-s must be positive")
    for opt in ("-qmp", "-incoming"):
        if opt in vm_args:
            ap.error(f"{opt} is added by this script; leave it out of the VM arguments")

    work = tempfile.mkdtemp(prefix="qemu-migrate-")
    args.mig_sock = os.path.join(work, "mig.sock")
    src_qmp_path = os.path.join(work, "src.qmp")
    dst_qmp_path = os.path.join(work, "dst.qmp")
    if args.dry_run:
        incoming = f"unix:{args.mig_sock}"
        print(" ".join([args.qemu] + vm_args +
                       ["-qmp", f"unix:{dst_qmp_path},server=on,wait=off",
                        "-incoming", incoming]))
        print(" ".join([args.qemu] + vm_args +
                       ["-qmp", f"unix:{src_qmp_path},server=on,wait=off"]))
        shutil.rmtree(work)
        return 0
    if not shutil.which(args.qemu):
        shutil.rmtree(work)
        print(f"qemu_migrate: {args.qemu}: not found", file=sys.stderr)
        return 2

    src = dst = src_qmp = dst_qmp = None
    rc = 2
    try:
        dst = start_qemu(args.qemu, vm_args, dst_qmp_path, os.path.join(work, "dst.log"),
                         incoming=f"unix:{args.mig_sock}")
        dst_qmp = QMP(dst_qmp_path, 30, dst)
        src = start_qemu(args.qemu, vm_args, src_qmp_path, os.path.join(work, "src.log"))
        src_qmp = QMP(src_qmp_path, 30, src)
        print(f"qemu_migrate: QEMU {src_qmp.version.get('major')}."
              f"{src_qmp.version.get('minor')}.{src_qmp.version.get('micro')}, "
              f"warming up {args.warmup:g} s", file=sys.stderr)
        time.sleep(args.warmup)
        rc = 1
        info, seen, params = migrate(args, src_qmp, args.poll)
        status = info.get("status")
        if status != "completed":
            print(f"qemu_migrate: migration {status}: "
                  f"{info.get('error-desc', 'no reason given')}", file=sys.stderr)
            return 1

        ram = info["ram"]
        page = ram.get("page-size", 4096)
        link = args.link_bytes_per_s
        max_bw = params.get("max-bandwidth", 0)
        # Pre-copy is paced to the cap; the final stage is not.
        precopy = float(max_bw) if max_bw and max_bw < link else link
        ideal_bytes = ram["normal"] * page
        final_bytes = seen["remaining"] or 0
        ideal_total_ms = ideal_bytes / precopy * 1e3
        ideal_downtime_ms = final_bytes / link * 1e3
        rates = seen["rates"]
        row = {
            "tool": "qemu",
            "workload": args.workload,
            "wss_pages": args.wss,
            "dirty_pages_per_s": f"{sum(rates) / len(rates):.0f}" if rates else "0",
            "link_bytes_per_s": f"{link:.0f}",
            "max_bandwidth_bytes_per_s": max_bw or 0,
            "rounds": ram.get("dirty-sync-count", 0),
            "total_ms": f"{info['total-time']:.3f}",
            "transferred_bytes": ram["transferred"],
            "downtime_ms": f"{info['downtime']:.3f}",
            "ideal_bytes": ideal_bytes,
            "ideal_total_ms": f"{ideal_total_ms:.3f}",
            "ideal_downtime_ms": f"{ideal_downtime_ms:.3f}",
            "bytes_ratio": ratio(ram["transferred"], ideal_bytes),
            "total_ratio": ratio(info["total-time"], ideal_total_ms),
            "downtime_ratio": ratio(info["downtime"], ideal_downtime_ms),
        }
        fp = seen["first_pass_normal"]
        print(f"qemu_migrate: completed in {info['total-time']} ms, downtime "
              f"{info['downtime']} ms, {ram['transferred']} bytes, "
              f"{ram.get('dirty-sync-count')} syncs, {ram['normal']} normal pages "
              f"({'first pass ' + str(fp) if fp is not None else 'first pass not seen'}), "
              f"max-bandwidth {max_bw}", file=sys.stderr)
        if args.csv:
            append_row(args.csv, row)
        else:
            print(",".join(COLUMNS))
            print(",".join(str(row[c]) for c in COLUMNS))
        rc = 0
    except (QMPError, OSError) as e:
        print(f"qemu_migrate: {e}", file=sys.stderr)
    finally:
        stop_qemu(src, src_qmp)
        stop_qemu(dst, dst_qmp)
        if args.keep or rc:
            print(f"qemu_migrate: sockets and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
