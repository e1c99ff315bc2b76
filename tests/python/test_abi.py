#!/usr/bin/python3
"""The binding's ctypes mirrors of the public structs have the C sizes.

    test_abi.py ABI_SIZES_BINARY PYTHON_BUILD_DIR

A field added to a struct in include/tropescan.h and not to its mirror in
python/tropescan makes the library write past Python's buffer (it crashed
the interpreter at exit once): this compares every mirror's ctypes.sizeof
with the compiler's sizeof.
"""
import ctypes
import subprocess
import sys

sizes = dict(line.split() for line in subprocess.run([sys.argv[1]], capture_output=True, text=True,
                                                     check=True).stdout.splitlines())
sys.path.insert(0, sys.argv[2])
import tropescan  # noqa: E402

mirrors = {"ts_diag": "_Diag", "ts_hit": "_Hit", "ts_matches": "_Matches", "ts_window": "_Window",
           "ts_doc_score": "_DocScore", "ts_pattern_info": "_PatternInfo", "ts_manifest_line": "_ManifestLine"}
bad = []
for c_name, py_name in mirrors.items():
    cls = getattr(tropescan, py_name)
    if ctypes.sizeof(cls) != int(sizes[c_name]):
        bad.append("%s: C %s bytes, python/tropescan %s %d" % (c_name, sizes[c_name], py_name, ctypes.sizeof(cls)))
    for f in cls._fields_:
        key = "%s.%s" % (c_name, f[0])
        if key not in sizes or int(sizes[key]) != getattr(cls, f[0]).offset:
            bad.append("%s: C offset %s, python/tropescan %d" % (key, sizes.get(key), getattr(cls, f[0]).offset))
print("\n".join(bad) or "%d mirrors match" % len(mirrors))
sys.exit(1 if bad else 0)
