#!/usr/bin/env python3
"""Capture raw kernel uevents (NETLINK_KOBJECT_UEVENT, group 1) to a file, one message a
line, the NUL separators shown as '|' (the fixture format of Tests/DaxMapTests/Fixtures).
Lines other writers append to the same file (e.g. '# MARK step') stay in order.
usage: uevents.py OUT   (runs until killed; prints READY on stdout once bound)"""
import os
import socket
import sys

NETLINK_KOBJECT_UEVENT = 15
s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((0, 1))
print("READY", flush=True)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
while True:
    data, (port, _groups) = s.recvfrom(1 << 16)
    if port != 0 or data.startswith(b"libudev"):
        continue  # only the kernel's own messages
    os.write(fd, data.rstrip(b"\0").replace(b"\0", b"|") + b"|\n")
