#!/usr/bin/env python3
"""Runs a command with write-xor-execute memory enforced by the kernel (prctl
PR_SET_MDWE, Linux 6.3+), as systemd's MemoryDenyWriteExecute=yes does: a mapping
that is writable and executable, or becomes executable, is refused."""
import ctypes, mmap, os, sys

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit("mdwe-exec: prctl(PR_SET_MDWE) failed, errno %d" % ctypes.get_errno())
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("mdwe-exec: a writable+executable mapping was allowed; not enforced")
except PermissionError:
    pass
os.execv(sys.argv[1], sys.argv[1:])
