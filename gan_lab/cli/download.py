"""``python -m gan_lab download``: fetch real datasets before class, so no notebook waits for the network."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.medmnist import SIZES
from .common import UsageError, subparser, writable_folder


def add_download(sub) -> None:
    p = subparser(sub, "download", "Download real datasets now: BBBC038 nuclei, MedMNIST flags.", """\
For instructors preparing machines: afterwards the notebooks find the data offline.
"nuclei" fetches BBBC038's stage1_train.zip (about 80 MB; resumed if interrupted),
checks and unpacks it; a MedMNIST flag (2-D, or 3-D such as adrenalmnist3d for notebook
10) fetches its official .npz through medmnist and checks its MD5. Data already there is
not downloaded again. Without --root the data goes to gan_lab's data folder
(`python -m gan_lab doctor` shows where).

examples:
  python -m gan_lab download nuclei
  python -m gan_lab download pneumoniamnist breastmnist adrenalmnist3d
  python -m gan_lab download pneumoniamnist --size 64
  python -m gan_lab download nuclei --root /srv/course-data/dsb2018_nuclei""")
    p.add_argument("names", nargs="+", metavar="NAME",
                   help="'nuclei' or a MedMNIST flag (pneumoniamnist, breastmnist, pathmnist, adrenalmnist3d, ...)")
    p.add_argument("--size", type=int, choices=SIZES, default=28,
                   help="MedMNIST image size in pixels (default: 28; ignored for nuclei; 3-D flags: 28 only)")
    p.add_argument("--root", type=Path, default=None,
                   help="download into this folder instead of the data folder (then pass it as root= or put "
                        "its parent in GAN_LAB_DATA)")
    p.set_defaults(handler=run_download)


def run_download(args: argparse.Namespace) -> int:
    from .. import config
    from ..data import fetch

    if args.root is not None:
        writable_folder(args.root, "--root")
    else:
        writable_folder(config.DATA_DIR, "the data folder (set GAN_LAB_HOME or give --root)")
    if "phantoms" in (n.lower() for n in args.names):
        raise UsageError("phantoms are generated on the fly: nothing to download. Name 'nuclei' or a MedMNIST flag.")
    for name in args.names:
        where = fetch(name, size=args.size, root=args.root)  # DataError → one line, exit code 2
        print(f"{name}: ready in {where}")
    return 0
