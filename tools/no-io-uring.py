#!/usr/bin/env python3
"""Runs a command the way a container with a default seccomp profile would (Docker's refuses io_uring):
io_uring_setup, io_uring_enter and io_uring_register fail with EPERM. Everything else is allowed.

    tools/no-io-uring.py COMMAND [ARG]...

Used by the tests to see `--transport auto` fall back to sockets and `--transport io-uring` refuse to start;
handy to check by hand what the gateway does in such a container:
    tools/no-io-uring.py src/ClusterGate/bin/Release/net10.0/clustergate run --seed 127.0.0.1:7000
"""
import ctypes
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
# io_uring_setup/enter/register are 425-427 in the generic syscall table (x86_64 and arm64 alike).
FIRST, LAST = 425, 427


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    program = [
        SockFilter(0x20, 0, 0, 0),                        # A = seccomp_data.nr
        SockFilter(0x35, 0, 2, FIRST),                    # A >= FIRST ? next : allow
        SockFilter(0x25, 1, 0, LAST),                     # A > LAST ? allow : deny
        SockFilter(0x06, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        SockFilter(0x06, 0, 0, SECCOMP_RET_ALLOW),
    ]
    filters = (SockFilter * len(program))(*program)
    prog = SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_NO_NEW_PRIVS): errno {ctypes.get_errno()}")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_SECCOMP): errno {ctypes.get_errno()}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
