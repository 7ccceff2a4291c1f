"""erw's Philox4x32-10 streams in numpy (engine/src/main/java/erw/engine/host/Philox.java and the
sampler's use of it, sampler/src/main/java/erw/sampler/Sampler.java), so that a PyTorch run can use
exactly the noise and labels of an erw sampling run.

    key = the 64-bit seed; counter words c0,c1 = the 64-bit block index, c2,c3 = the 64-bit stream.
    normal:  element i of a run starting at block `base` comes from block base + i/4, Box-Muller on
             the block's words (0,1) and (2,3), u = ((w >>> 8) + 0.5) * 2^-24, computed in double, rounded to float.
    uniform: element i from block base + i/4, word i%4, ((w >>> 8) + 0.5f) * 2^-24f in float.
    sampler: sample j of stream s uses blocks [j * ceil(D/4), (j+1) * ceil(D/4)); stream 0 is the initial
             noise, stream 1 + i the SDE noise of step i, stream Long.MAX_VALUE the random class labels.
"""
import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)
_SH32 = np.uint64(32)

STREAM_INITIAL = 0
STREAM_CLASSES = (1 << 63) - 1


def blocks(seed, stream, index):
    """Philox4x32-10 of block indices `index` (uint64 array) -> (4, len) uint64 array of 32-bit words."""
    seed &= (1 << 64) - 1
    stream &= (1 << 64) - 1
    idx = np.asarray(index, dtype=np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    c0 = idx & _MASK32
    c1 = idx >> _SH32
    c2 = np.full_like(idx, stream & 0xFFFFFFFF)
    c3 = np.full_like(idx, stream >> 32)
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> _SH32, p0 & _MASK32
        hi1, lo1 = p1 >> _SH32, p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3])


def normal(seed, stream, base, n):
    """n standard normals (float32) from blocks base, base+1, ... (Philox.normal)."""
    nb = (n + 3) // 4
    w = blocks(seed, stream, np.arange(nb, dtype=np.uint64) + np.uint64(base))
    u = ((w >> np.uint64(8)).astype(np.float64) + 0.5) * 2.0 ** -24  # (4, nb)
    out = np.empty((nb, 4), dtype=np.float32)
    for pair in range(2):
        r = np.sqrt(-2.0 * np.log(u[2 * pair]))
        a = 2.0 * np.pi * u[2 * pair + 1]
        out[:, 2 * pair] = (r * np.cos(a)).astype(np.float32)
        out[:, 2 * pair + 1] = (r * np.sin(a)).astype(np.float32)
    return out.reshape(-1)[:n]


def uniform(seed, stream, base, n):
    """n uniforms in (0,1) (float32) from blocks base, base+1, ... (Philox.uniform)."""
    nb = (n + 3) // 4
    w = blocks(seed, stream, np.arange(nb, dtype=np.uint64) + np.uint64(base))
    k = (w >> np.uint64(8)).astype(np.float32)  # < 2^24: exact in float
    u = (k + np.float32(0.5)) * np.float32(2.0 ** -24)
    return u.T.reshape(-1)[:n]


def sample_noise(seed, stream, first, n, d):
    """(n, d) float32: the sampler's noise for samples [first, first+n) of one stream (Sampler.noise)."""
    per = (d + 3) // 4
    return np.stack([normal(seed, stream, (first + j) * per, d) for j in range(n)])


def random_labels(seed, n, num_classes):
    """Sampler.randomLabels: n labels uniform in [0, num_classes), as int64."""
    u = uniform(seed, STREAM_CLASSES, 0, n)
    y = (u * np.float32(num_classes)).astype(np.float32)
    return np.minimum(num_classes - 1, y.astype(np.int64))
