"""InfoGAN's codes in the latent explorer, and code sweeps: what does each code c change?

:func:`infogan_explorer` puts sliders for the codes (a toggle for the
categorical c, one slider per continuous code) above notebook 02's
:class:`~gan_lab.widgets.latent.LatentExplorer`, which keeps exploring z:
the explorer drives a :class:`CodedGenerator`, G with the codes held at the
toggles' values, so every one of its controls works unchanged.
:func:`code_sweep` renders the grids of the InfoGAN paper: z fixed, one code varied.
"""

from __future__ import annotations

import ipywidgets as widgets
import torch
from torch import nn

from .latent import LatentExplorer
from .picture import PicturedVBox


class CodedGenerator(nn.Module):
    """z ↦ G(z, c, c_cont) with the codes held fixed: an unconditional-looking G for the latent explorer.

    Args:
        G: an ``InfoGANGenerator`` (``z_dim``, ``num_categories``, ``num_continuous``).

    Attributes:
        c: the categorical code (int); c_cont: the continuous codes (list of floats); set them freely.
    """

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G, self.z_dim = G, G.z_dim
        self.c, self.c_cont = 0, [0.0] * G.num_continuous

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = torch.full((z.shape[0],), self.c, dtype=torch.long, device=z.device)
        c_cont = torch.tensor(self.c_cont, dtype=z.dtype, device=z.device).expand(z.shape[0], -1)
        return self.G(z, c, c_cont)


def infogan_explorer(G: nn.Module, data=None, *, k: int = 4, cont_range: float = 2.0, **explorer_kwargs):
    """The latent explorer with InfoGAN code controls on top.

    Args:
        G: an ``InfoGANGenerator`` (e.g. ``run.G``).
        data: training images for the explorer's nearest-neighbour panel (or None).
        k: principal-direction sliders of z (computed with the codes at c = 0, c_cont = 0).
        cont_range: the continuous sliders span ±cont_range (training drew codes from [−1, 1];
            beyond it G extrapolates).
        **explorer_kwargs: passed on to :class:`LatentExplorer` (seed, scale, n_neighbours, ...).

    Returns:
        An ``ipywidgets.VBox`` with attributes ``explorer`` (the LatentExplorer), ``category``
        (ToggleButtons over c), ``code_sliders`` (FloatSliders over c_cont) and ``coded`` (the CodedGenerator).

    Example:
        >>> infogan_explorer(run.G, data)  # doctest: +SKIP
    """
    if not hasattr(G, "num_categories"):
        raise TypeError(f"infogan_explorer needs an InfoGANGenerator (an InfoGAN run.G), not {type(G).__name__}.")
    coded = CodedGenerator(G)
    explorer = LatentExplorer(coded, data, k=k, **explorer_kwargs)
    wide = {"description_width": "initial"}
    category = widgets.ToggleButtons(options=[(f"c = {i}", i) for i in range(G.num_categories)],
                                     description="categorical code", style=wide)
    code_sliders = [widgets.FloatSlider(0.0, min=-cont_range, max=cont_range, step=0.1,
                                        description=f"continuous code {j + 1}", style=wide)
                    for j in range(G.num_continuous)]

    def update(_=None):
        coded.c = category.value
        coded.c_cont = [s.value for s in code_sliders]
        explorer.redraw()

    for control in (category, *code_sliders):
        control.observe(update, names="value")
    box = PicturedVBox([widgets.HTML("<b>InfoGAN codes</b> (z is explored below)"), category, *code_sliders,
                        explorer])
    box.explorer, box.category, box.code_sliders, box.coded = explorer, category, code_sliders, coded
    return box


def code_sweep(run, code: str | int, n: int = 8, values=None, seed: int = 0) -> tuple[torch.Tensor, int]:
    """Images that vary one code with z fixed: (images (rows·cols, C, H, W), cols) for ``show_images``.

    Args:
        run: an ``InfoGANRun`` (``run.sample(n, c, c_cont, seed)``).
        code: "categorical" (rows: the K values of c; columns: n codes z, the same in every row) or the
            index j of a continuous code (rows: n codes z; columns: ``values`` of c_cont[j], others 0).
        n: codes z.
        values: the values of a continuous code (default 7 from −2 to 2).
        seed: seed of z.
    """
    m = run.G.num_continuous
    if code == "categorical":
        rows = [run.sample(n, c=k, c_cont=[0.0] * m, seed=seed) for k in range(run.G.num_categories)]
        return torch.cat(rows), n
    if not isinstance(code, int) or not 0 <= code < m:
        raise ValueError(f"code must be 'categorical' or a continuous code index in 0..{m - 1}; got {code!r}.")
    values = torch.linspace(-2, 2, 7) if values is None else torch.as_tensor(values, dtype=torch.float)
    columns = []
    for v in values:  # one column per value; every column uses the same n codes z and c = 0
        c_cont = torch.zeros(n, m)
        c_cont[:, code] = v
        columns.append(run.sample(n, c=0, c_cont=c_cont, seed=seed))
    return torch.stack(columns, dim=1).flatten(0, 1), len(values)  # row i: z_i under every value
