#!/usr/bin/env python3
"""An NTNDArray image source: a moving 2-D Gaussian, ``rate`` frames per second."""
import numpy as np

from pva import nt
from pva.server import PVAGroup, ioc_arg_parser, pvaproperty, run, value_instance

ND = nt.NTNDArray()
SHAPE = (64, 96)


def frame(t):
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    cx = SHAPE[1] / 2 + SHAPE[1] / 4 * np.cos(t)
    cy = SHAPE[0] / 2 + SHAPE[0] / 4 * np.sin(t)
    img = 1000 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 50.0)
    return img.astype(np.uint16)


class ImageIOC(PVAGroup):
    image = pvaproperty(value=value_instance(ND.wrap(frame(0.0)), ND.type), read_only=True)
    rate = pvaproperty(value=nt.NTScalarFloat64(value=5.0))
    frames = pvaproperty(value=nt.NTScalarInt64(value=0), read_only=True)

    @rate.putter
    async def rate(self, instance, update):
        new = update.instance.value
        if not 0 < new <= 100:
            raise ValueError("rate must be in (0, 100] Hz")

    @image.startup
    async def image(self, instance, async_lib):
        n = 0
        while True:
            n += 1
            full = ND.wrap(frame(n / 10.0), attributes={"frame": n})
            async with self.image as image:
                for key in ("value", "dimension", "compressedSize", "uncompressedSize",
                            "timeStamp", "dataTimeStamp", "attribute"):
                    setattr(image, key, full[key])
                image.uniqueId = n
            async with self.frames as frames:
                frames.value = n
            await async_lib.library.sleep(1.0 / self.rate.data.value)


def main():
    ioc_options, run_options = ioc_arg_parser(default_prefix="pva:image:",
                                              desc="An NTNDArray image source.")
    run(ImageIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
