"""Minimal pure-Python safetensors reader/writer (no `safetensors` package needed).

Format: 8-byte little-endian u64 header length n, then n bytes of UTF-8 JSON
    {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
then the raw little-endian tensor bytes; offsets are relative to the end of the header.
The header is padded with spaces to a multiple of 8 bytes (as the reference library does).

    from safetensors_io import read, write
    tensors, metadata = read("file.safetensors")     # dict name -> torch.Tensor, dict str -> str
    write("out.safetensors", tensors, {"erw.config": "{...}"})

Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
"""
import json
import struct

import numpy as np
import torch

# safetensors dtype -> (numpy little-endian dtype used for the bytes, torch dtype)
_DTYPES = {
    "F64": ("<f8", torch.float64),
    "F32": ("<f4", torch.float32),
    "F16": ("<f2", torch.float16),
    "BF16": ("<u2", torch.bfloat16),  # bytes read as uint16, reinterpreted
    "I64": ("<i8", torch.int64),
    "I32": ("<i4", torch.int32),
    "I16": ("<i2", torch.int16),
    "I8": ("i1", torch.int8),
    "U8": ("u1", torch.uint8),
    "BOOL": ("?", torch.bool),
}
_TORCH_TO_ST = {v[1]: k for k, v in _DTYPES.items()}


def read_header(path):
    """Returns (header dict without __metadata__, metadata dict, data start offset)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        header = json.loads(f.read(n).decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    return header, dict(meta), 8 + n


def read(path, names=None):
    """Reads a safetensors file. Returns (dict name -> torch.Tensor, metadata dict).

    `names`: optional iterable; only those tensors are returned (missing ones are skipped)."""
    header, meta, start = read_header(path)
    wanted = None if names is None else set(names)
    out = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if wanted is not None and name not in wanted:
                continue
            dt = info["dtype"]
            if dt not in _DTYPES:
                raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
            np_dt, torch_dt = _DTYPES[dt]
            b, e = info["data_offsets"]
            shape = [int(s) for s in info["shape"]]
            f.seek(start + b)
            buf = f.read(e - b)
            count = 1
            for s in shape:
                count *= s
            if len(buf) != count * np.dtype(np_dt).itemsize:
                raise ValueError(f"{path}: tensor {name}: {len(buf)} bytes for shape {shape} {dt}")
            arr = np.frombuffer(buf, dtype=np_dt).copy().reshape(shape)
            if dt == "BF16":
                t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
            else:
                t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("=")))
            out[name] = t
    return out, meta


def _to_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype not in _TORCH_TO_ST:
        raise ValueError(f"unsupported torch dtype {t.dtype}")
    st = _TORCH_TO_ST[t.dtype]
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy().astype("<i2")
    else:
        arr = t.numpy().astype(_DTYPES[st][0])
    return st, arr.tobytes()


def write(path, tensors, metadata=None):
    """Writes dict name -> torch.Tensor (any supported dtype) and metadata (str -> str), names sorted.
    Tensors are converted and written one at a time (no second copy of a whole model in memory)."""
    header = {}
    off = 0
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"unsupported torch dtype {t.dtype}")
        st = _TORCH_TO_ST[t.dtype]
        n = t.numel() * np.dtype(_DTYPES[st][0]).itemsize
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("safetensors metadata must map str -> str")
        header = {"__metadata__": dict(metadata), **header}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name in names:
            f.write(_to_bytes(tensors[name])[1])
