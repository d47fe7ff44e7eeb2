#!/usr/bin/python3
"""pkgpaths.py A.conda B.conda: compares the paths (and file sizes) two .conda packages
install, as the side-by-side benchmarks check that both sides built the same package."""
import io, sys, tarfile, zipfile
import zstandard

def paths(conda):
    out = {}
    with zipfile.ZipFile(conda) as z:
        name = next(n for n in z.namelist() if n.startswith("pkg-"))
        data = zstandard.ZstdDecompressor().stream_reader(z.open(name))
        with tarfile.open(fileobj=data, mode="r|") as tf:
            for m in tf:
                if not m.isdir():
                    out[m.name] = m.size if m.isfile() else "-> " + m.linkname
    return out

a, b = paths(sys.argv[1]), paths(sys.argv[2])
only_a = sorted(set(a) - set(b))
only_b = sorted(set(b) - set(a))
differ = sorted(p for p in set(a) & set(b) if a[p] != b[p])
print(f"{len(a)} and {len(b)} paths; only in the first: {len(only_a)} {only_a[:3]}; only in the second: {len(only_b)} {only_b[:3]}; differing: {len(differ)} {differ[:3]}")
