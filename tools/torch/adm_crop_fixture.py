"""Writes the image fixtures for erw's ADM centre-crop test: small PNGs of each PIL mode (RGB, L, RGBA, P)
and what ADM's center_crop_arr (guided-diffusion; REPA's preprocessing) makes of them with PIL.

    /usr/bin/python3 tools/torch/adm_crop_fixture.py [--out tests/src/test/resources/fixtures/images]

Writes NAME.png for each case and crops.safetensors holding, per case, `NAME` (size, size, 3) uint8 values
as F32 and metadata `NAME.size`.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch  # noqa: E402


def center_crop_arr(pil_image, image_size):
    """guided-diffusion's image_datasets.center_crop_arr, verbatim."""
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return Image.fromarray(arr[crop_y: crop_y + image_size, crop_x: crop_x + image_size])


def picture(w, h, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / (5 + 3 * c)) * np.cos(yy / (7 + c)) for c in range(3)], -1)
    img = 127.5 + 100 * base + rng.normal(0, 20, (h, w, 3))
    img[h // 3: h // 2, w // 4: w // 2] = 255  # a hard edge (ringing of the bicubic filter, clipping)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


CASES = [  # name, width, height, mode, crop size
    ("rgb_box_then_bicubic", 300, 200, "RGB", 64),
    ("grey_odd_bicubic", 97, 131, "L", 64),
    ("rgba_upscale", 50, 70, "RGBA", 64),
    ("palette_box_only", 256, 256, "P", 64),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "tests", "src", "test", "resources", "fixtures", "images")))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tensors, meta = {}, {}
    for i, (name, w, h, mode, size) in enumerate(CASES):
        rgb = Image.fromarray(picture(w, h, i))
        img = {"RGB": rgb, "L": rgb.convert("L"), "RGBA": rgb.convert("RGBA"), "P": rgb.convert("P")}[mode]
        if mode == "RGBA":
            a = np.array(img)
            a[..., 3] = 128  # half transparent: convert("RGB") drops alpha without compositing
            img = Image.fromarray(a, "RGBA")
        path = os.path.join(args.out, name + ".png")
        img.save(path)
        crop = np.array(center_crop_arr(Image.open(path).convert("RGB"), size))
        tensors[name] = torch.from_numpy(crop.astype(np.float32))
        meta[name + ".size"] = str(size)
        print(f"{path}: {mode} {w}x{h} -> {crop.shape}")
    safetensors_io.write(os.path.join(args.out, "crops.safetensors"), tensors, meta)


if __name__ == "__main__":
    main()
